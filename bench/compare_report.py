"""compare_report.py: medians of compare.py's samples -> compare.csv, compare.md, and the chart
(bench/compare_chart.py, run with Debian's /usr/bin/python3 for matplotlib)."""
import csv
import os
import platform
import statistics
import subprocess

from compare_util import machine_cpu
from compare_cache import CACHE_INFO
from compare_meta import META_INFO

CLIENT_ORDER = ["raw", "s3mount", "s3mount-cache", "s3mount-posix", "s3fs", "s3fs-cache", "rclone-off",
                "rclone-full", "rclone-writes"]
WORKLOAD_INFO = {  # name -> (label, unit, better, raw counterpart)
    "ior-write": ("IOR write, 2 tasks, O_DIRECT, file per process", "MiB/s", "high", "raw-put"),
    "ior-read": ("IOR read, 2 tasks, O_DIRECT, file per process", "MiB/s", "high", "raw-get"),
    "dd": ("dd bs=1M, one buffered reader", "MiB/s", "high", "raw-get"),
    "randread": ("4 KiB random reads, O_DIRECT, 1 job", "ops/s", "high", None),
    "small-write": ("256 KiB files written, 8 threads", "files/s", "high", None),
    "small-read": ("256 KiB files read, 8 threads", "files/s", "high", None),
    "ls": ("ls -l of the directory", "s", "low", None),
    "ttfb": ("time to first byte (open + 1 byte read)", "ms", "low", "ttfb"),
    "append": ("append 1 MiB to the big object, close included", "s", "low", None),
}
WORKLOAD_INFO.update(META_INFO)
WORKLOAD_INFO.update(CACHE_INFO)


def _num(x):
    try:
        return float(x)
    except (TypeError, ValueError):
        return None


def _fmt(x, digits=None):
    if x is None:
        return "–"
    if isinstance(x, str):
        return x
    if digits is None:
        digits = 0 if abs(x) >= 100 else (1 if abs(x) >= 10 else 2)
    return f"{x:,.{digits}f}"


def medians(samples):
    """(client, workload) -> dict of medians over the rounds that did not fail."""
    groups = {}
    for s in samples:
        groups.setdefault((s["client"], s["workload"]), []).append(s)
    out = {}
    for key, rows in groups.items():
        ok = [r for r in rows if _num(r.get("value")) is not None]
        m = dict(client=key[0], workload=key[1], n_ok=len(ok), n_fail=len(rows) - len(ok),
                 unit=(ok or rows)[0].get("unit", ""),
                 reasons="; ".join(sorted({r.get("reason", "") for r in rows if r not in ok})))
        for field in ("value", "cpu_s_per_gib", "cpu_ms_per_op", "peak_rss_mib", "requests_total",
                      "client_cpu_s", "loadgen_cpu_s", "wall_s", "machine_s_per_gib", "server_s_per_gib",
                      "loadgen_s_per_gib"):
            vals = [_num(r.get(field)) for r in ok]
            vals = [v for v in vals if v is not None]
            m[field] = statistics.median(vals) if vals else None
        if ok:  # the request breakdown of the sample whose total is nearest the median
            best = min(ok, key=lambda r: abs((_num(r.get("requests_total")) or 0) - (m["requests_total"] or 0)))
            m["requests"] = best.get("requests", "")
            m["s3mount_log_requests"] = best.get("s3mount_log_requests", "")
        out[key] = m
    return out


def write(bench):
    res = bench.results
    med = medians(bench.samples)
    fields = ["client", "workload", "unit", "value", "n_ok", "n_fail", "cpu_s_per_gib", "cpu_ms_per_op",
              "peak_rss_mib", "requests_total", "requests", "s3mount_log_requests", "client_cpu_s",
              "loadgen_cpu_s", "wall_s", "machine_s_per_gib", "server_s_per_gib", "loadgen_s_per_gib",
              "reasons"]
    with open(f"{res}/compare.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fields, extrasaction="ignore")
        w.writeheader()
        for m in sorted(med.values(), key=lambda m: (m["workload"], m["client"])):
            w.writerow({k: (round(v, 4) if isinstance(v, float) else v) for k, v in m.items()})
    if bench.memory:
        with open(f"{res}/compare.csv", "a", newline="") as f:
            r = bench.memory
            csv.writer(f).writerow(["s3mount", r["workload"], "MiB/s", r.get("value"), 1, 0, "", "",
                                    r.get("peak_rss_mib", ""), "", "", r.get("s3mount_log_requests", ""),
                                    r.get("client_cpu_s", ""), "", r.get("wall_s", ""), r.get("reason", "")])
    with open(f"{res}/compare.md", "w") as f:
        f.write(markdown(bench, med))
    chart = os.path.join(os.path.dirname(os.path.abspath(__file__)), "compare_chart.py")
    r = subprocess.run(["/usr/bin/python3", chart, f"{res}/compare.csv", f"{res}/compare.png"],
                       capture_output=True, text=True)
    if r.returncode != 0:
        print(f"chart: {r.stderr.strip()[-500:]}")


def cell(med, client, wl, field="value", digits=None):
    m = med.get((client, wl))
    if not m:
        return "–"
    if m["n_ok"] == 0:
        return "fail"
    v = _fmt(m.get(field), digits)
    return v + (f" ({m['n_fail']} fail)" if m["n_fail"] else "")


def ratio(med, a, b, wl_a, wl_b=None):
    x = med.get((a, wl_a))
    y = med.get((b, wl_b or wl_a))
    if not x or not y or x["value"] is None or not y["value"]:
        return "–"
    return f"{x['value'] / y['value']:.2f}x"


def markdown(bench, med):
    p, a = bench.p, bench.a
    clients = [c for c in CLIENT_ORDER if c == "raw" or c in a.clients]
    lines = []
    add = lines.append
    mem = int(open("/proc/meminfo").readline().split()[1]) // (1 << 20)
    load = open("/proc/loadavg").read().split()[:3]
    add("# s3mount side by side with s3fs and rclone (issue 4)\n")
    add(f"- Run: {bench.started:%Y-%m-%d %H:%M} UTC, {'--quick' if a.quick else 'default'} mode, "
        f"{p['rounds']} round(s), client order rotated every round, medians; took {bench.elapsed / 60:.1f} min.")
    add(f"- Machine: {os.cpu_count()} vCPU, {mem} GiB RAM, Linux {platform.release()}; server Ceph RGW "
        f"(memstore) on 127.0.0.1, client and server on the same cores. Load average at the end: "
        f"{' '.join(load)} (RGW's threads count); CPU stolen by the hypervisor during the run: "
        f"{machine_cpu()[2] - bench.steal0:.1f} s.")
    gen = "IOR (mpirun, ior -a POSIX --posix.odirect)" if bench.ior else "fio (numjobs, direct=1)"
    add(f"- Sizes: IOR/fio shape {p['tasks']} tasks x {p['ior_block']} block, {p['ior_transfer']} transfer via {gen}; "
        f"dd and random reads on a {p['big'] >> 20} MiB object; {p['small_files']} files of "
        f"{p['small_size'] >> 10} KiB; ls -l of {p['ls_objects']} objects; TTFB median of "
        f"{p['ttfb_samples']} 64 KiB objects; raw: {p['raw_get'] >> 20} MiB of 8 MiB ranged GETs and "
        f"{p['raw_put'] >> 20} MiB of 8 MiB PUTs, 16 in flight, one curl process.")
    add("- Every client is mounted fresh for every workload, at default settings (s3mount with "
        "--allow-delete --allow-overwrite). rclone-writes writes to its local VFS cache first: its "
        "write figures measure local disk plus the upload done before unmount returns, not S3 alone.\n")
    add("## Main figures (medians)\n")
    add("| workload | unit | " + " | ".join(clients) + " | s3mount / raw | s3mount / s3fs |")
    add("|---|---|" + "---|" * len(clients) + "---|---|")
    for wl, (label, unit, better, raw) in WORKLOAD_INFO.items():
        # Rows a workload adds of its own (mdtest-stat, reread-first, ...) show with it.
        if wl not in a.workloads and not any((c, wl) in med for c in clients):
            continue
        cells = [cell(med, c, raw if c == "raw" else wl) if (c != "raw" or raw) else "–" for c in clients]
        r_raw = ratio(med, "s3mount", "raw", wl, raw) if raw else "–"
        r_fs = ratio(med, "s3mount", "s3fs", wl)
        if better == "low":
            r_raw = "–" if r_raw == "–" else r_raw + " (time)"
            r_fs = "–" if r_fs == "–" else r_fs + " (time)"
        add(f"| {label} | {unit} | " + " | ".join(cells) + f" | {r_raw} | {r_fs} |")
    add("\nraw = one curl process over presigned URLs: `raw-get` (8 MiB ranged GETs) is the reference for "
        "reads, `raw-put` (8 MiB PUTs) for writes. Ratios on time rows (ls, TTFB) are time ratios: "
        "lower is better.")
    mpu = med.get(("raw", "raw-mpu"))
    if mpu and mpu["value"] is not None:
        add(f"`raw-mpu`, the same multipart uploads as the IOR write ({p['tasks']} objects of "
            f"{p['ior_block']} in 8 MiB UploadParts, then CompleteMultipartUpload): {mpu['value']:.0f} MiB/s "
            f"median, {cell(med, 'raw', 'raw-mpu', 'cpu_s_per_gib')} curl CPU s/GiB.")
    add("")

    add("## Client CPU (daemon utime+stime; s per GiB moved, or ms per operation)\n")
    add("| workload | per | " + " | ".join(clients) + " |")
    add("|---|---|" + "---|" * len(clients))
    for wl, (label, unit, _, raw) in WORKLOAD_INFO.items():
        if wl not in a.workloads:
            continue
        per_op = wl in ("randread", "ls", "ttfb", "small-write", "small-read", "append")
        field = "cpu_ms_per_op" if per_op else "cpu_s_per_gib"
        row = []
        for c in clients:
            w = raw if c == "raw" else wl
            row.append(cell(med, c, w, field) if w and (c != "raw" or not per_op) else "–")
        add(f"| {wl} | {'ms/op' if per_op else 's/GiB'} | " + " | ".join(row) + " |")
    add("\nThe load generator's own CPU (IOR ranks, fio, dd, the Python helpers) is excluded, except in "
        "the raw column, where curl is both the client and the load generator. Kernel FUSE work done in "
        "the reader's context (page-cache copies) is charged to the reader, not the daemon.\n")

    add(machine_cpu_section(med, clients, a.workloads))
    add("## Peak RSS of the client daemon (MiB, VmHWM reset before each workload)\n")
    fs_clients = [c for c in clients if c != "raw"]
    add("| workload | " + " | ".join(fs_clients) + " |")
    add("|---|" + "---|" * len(fs_clients))
    for wl in WORKLOAD_INFO:
        if wl in a.workloads:
            add(f"| {wl} | " + " | ".join(cell(med, c, wl, "peak_rss_mib", 0) for c in fs_clients) + " |")
    add("\nProcess layouts: s3mount, s3fs and rclone (`--daemon`) each serve the mount from one "
        "multi-threaded process after detaching; the figure is that process's VmHWM.\n")

    add("## S3 requests per workload (from RGW's access log, all clients alike)\n")
    add("| workload | " + " | ".join(clients) + " |")
    add("|---|" + "---|" * len(clients))
    for wl, (_, _, _, raw) in WORKLOAD_INFO.items():
        if wl not in a.workloads:
            continue
        row = []
        for c in clients:
            w = raw if c == "raw" else wl
            m = med.get((c, w)) if w else None
            row.append(f"{_fmt(m['requests_total'], 0)}: {m.get('requests', '')}" if m and m["n_ok"] else
                       ("fail" if m else "–"))
        add(f"| {wl} | " + " | ".join(row) + " |")
    add("\nCounted from the `beast:` access lines RGW logs at its default `debug_rgw = 1` "
        "(List = bucket GET, Get/Head/Put on objects, UploadPart, CreateMPU/CompleteMPU; HeadBucket). "
        "s3mount's own count, logged at unmount (`S3 requests: ...`), per workload:\n")
    for wl in WORKLOAD_INFO:
        m = med.get(("s3mount", wl))
        if m and m["n_ok"]:
            add(f"- {wl}: `{m.get('s3mount_log_requests', '')}`")
    add("")

    if any(c in ("null", "s3mount-memfs") for c, _ in med):
        add("## The FUSE path alone: s3mount-memfs vs libfuse's `null` example\n")
        add(f"dd bs=1M of {p['memfs_size'] >> 20} MiB; null.c built at run time from "
            "/usr/share/doc/libfuse3-dev/examples/null.c.\n")
        add("| read | null (MiB/s) | s3mount-memfs (MiB/s) | ratio | memfs CPU s/GiB |")
        add("|---|---|---|---|---|")
        for mode in ("direct", "buffered"):
            wl = f"memfs-{mode}"
            add(f"| {'O_DIRECT' if mode == 'direct' else 'buffered'} | {cell(med, 'null', wl)} | "
                f"{cell(med, 's3mount-memfs', wl)} | {ratio(med, 's3mount-memfs', 'null', wl)} | "
                f"{cell(med, 's3mount-memfs', wl, 'cpu_s_per_gib')} |")
        add("")
    if bench.memory:
        r = bench.memory
        add("## Memory check\n")
        add(f"s3mount at default settings, {p['mem_readers']} concurrent sequential buffered `dd bs=1M` "
            f"readers, each of its own {p['mem_size'] >> 20} MiB object: peak RSS "
            f"**{_fmt(_num(r.get('peak_rss_mib')), 0) if r.get('peak_rss_mib') else 'fail'} MiB** "
            f"(target <= 512 MiB), aggregate {r.get('value')} MiB/s. {r.get('reason', '')}\n")
        if r.get("s3mount_log_requests"):
            parts = -(-p["mem_size"] // (8 << 20))
            add(f"S3 requests (s3mount's count): `{r['s3mount_log_requests']}`; the floor for the GETs "
                f"is {p['mem_readers'] * (parts + 1)} (per object, the small first GET and one per "
                f"8 MiB part).\n")
    add("## Targets of issue 4\n")
    add(targets(med, bench))
    notes = [r for r in bench.samples if r.get("reason") and _num(r.get("value")) is not None]
    if notes:
        add("## Notes\n")
        for r in notes:
            add(f"- round {r['round']}, {r['client']}, {r['workload']}: {r['reason']}")
        add("")
    if bench.failures:
        add("## Failures\n")
        for client, wl, rnd, reason, logf in bench.failures:
            add(f"- round {rnd}, {client}, {wl}: {reason} (log: `{logf}`)")
        add("")
    return "\n".join(lines) + "\n"


STREAMING = ("ior-write", "ior-read", "dd")


def cpu_ceiling(med, wl, raw):
    """An upper bound on s3mount / raw that the machine's CPU allows: (server + curl) over
    (server + s3mount's daemon), CPU s per GiB. Client and server share the cores, so when
    the machine is busy throughput is about cores / (CPU s per GiB of everything moving the
    bytes); leaving out the load generator (IOR's ranks and mpirun) favours s3mount."""
    x, y = med.get(("s3mount", wl)), med.get(("raw", raw))
    try:
        ours = x["server_s_per_gib"] + x["cpu_s_per_gib"]
        theirs = y["server_s_per_gib"] + y["cpu_s_per_gib"]
    except (TypeError, KeyError):
        return None
    return theirs / ours if ours > 0 else None


CPU_ROWS = (("server (RGW, OSD, monitor)", "server_s_per_gib"),
            ("client (daemon; raw: curl)", "cpu_s_per_gib"),
            ("load generator (IOR ranks and mpirun, dd)", "loadgen_s_per_gib"),
            ("whole machine (all of the above, kernel threads, the runner)", "machine_s_per_gib"))


def machine_cpu_section(med, clients, workloads):
    wls = [w for w in STREAMING if w in workloads]
    if not any(med.get((c, w), {}).get("server_s_per_gib") for c in clients for w in wls):
        return ""
    out = ["## Where the machine's CPU goes (CPU s per GiB moved, medians)\n",
           "| workload | share | " + " | ".join(clients) + " |", "|---|---|" + "---|" * len(clients)]
    bounds = []
    for wl in wls:
        raw = WORKLOAD_INFO[wl][3]
        for label, field in CPU_ROWS:
            if field == "loadgen_s_per_gib":  # raw: curl is the load generator
                row = ["–" if c == "raw" else cell(med, c, wl, field) for c in clients]
            else:
                row = [cell(med, c, raw if c == "raw" else wl, field) for c in clients]
            out.append(f"| {wl} | {label} | " + " | ".join(row) + " |")
        c = cpu_ceiling(med, wl, raw)
        if c is not None:
            bounds.append(f"{wl} {c:.2f}x (measured {ratio(med, 's3mount', 'raw', wl, raw)})")
    out.append("\nClient and server share the cores, so a workload that keeps the machine busy moves about "
               "cores / (CPU s per GiB of everything that moves the bytes): a client that costs more CPU "
               "per byte than curl cannot reach raw's throughput here, however fast it is on its own. "
               "CPU ceiling of s3mount / raw, (server + curl) / (server + s3mount's daemon), an upper bound "
               "since it leaves out the load generator: " + ("; ".join(bounds) or "–") + ". The whole-"
               "machine row also counts mpirun's start-up and stop, which IOR's own timing leaves out.\n")
    return "\n".join(out)


def targets(med, bench):
    def v(c, w):
        m = med.get((c, w))
        return m["value"] if m and m["n_ok"] else None

    def check(name, x, ref, factor, ceiling=None):
        cap = "–" if ceiling is None else f"{ceiling:.2f}x"
        if x is None or ref is None:
            return f"| {name} | – | – | {cap} | not measured |"
        got = x / ref
        return f"| {name} | {got:.2f}x | >= {factor}x | {cap} | {'met' if got >= factor else 'NOT met'} |"
    rows = ["| target | measured | wanted | CPU ceiling | |", "|---|---|---|---|---|",
            check("IOR read vs raw ranged GETs", v("s3mount", "ior-read"), v("raw", "raw-get"), 0.9,
                  cpu_ceiling(med, "ior-read", "raw-get")),
            check("IOR read vs s3fs", v("s3mount", "ior-read"), v("s3fs", "ior-read"), 3),
            check("IOR write vs raw parallel PUTs", v("s3mount", "ior-write"), v("raw", "raw-put"), 0.9,
                  cpu_ceiling(med, "ior-write", "raw-put")),
            check("IOR write vs raw multipart uploads (same parts)", v("s3mount", "ior-write"),
                  v("raw", "raw-mpu"), 0.9, cpu_ceiling(med, "ior-write", "raw-mpu")),
            check("buffered dd vs O_DIRECT IOR read", v("s3mount", "dd"), v("s3mount", "ior-read"), 0.7),
            check("memfs O_DIRECT vs null", v("s3mount-memfs", "memfs-direct"), v("null", "memfs-direct"), 0.9),
            check("memfs buffered vs null", v("s3mount-memfs", "memfs-buffered"), v("null", "memfs-buffered"), 0.9)]
    r = bench.memory
    if r and _num(r.get("peak_rss_mib")) is not None:
        ok = float(r["peak_rss_mib"]) <= 512
        rows.append(f"| peak RSS, {bench.p['mem_readers']} readers | {r['peak_rss_mib']} MiB | <= 512 MiB | – | "
                    f"{'met' if ok else 'NOT met'} |")
    rows.append("\nCPU ceiling: the ratio the machine's CPU allows (see \"Where the machine's CPU goes\").")
    return "\n".join(rows) + "\n"
