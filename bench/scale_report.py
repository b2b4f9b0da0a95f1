#!/usr/bin/python3
"""scale_report.py: the node-scaling report of bench/slurm/scale.sh — the blog's table per run,
a PNG like its Figure 1 and a Markdown report — from the run folders scale.sh wrote
(runs/nN/: run.txt, the job's IOR output, and in the lab net.tsv, each node's network bytes).

  scale_report.py --out DIR [--lab] [--where TEXT] [--server TEXT] [--script FILE]
                  [--tasks-per-node N] [--cores N] [--elapsed S] [--title T] RUN_DIR...

Numbers come from IOR's own output (bench/ioparse.py): the aggregate is IOR's Max Write / Max
Read; per node is the aggregate over the node count (the blog's per-node figure). In the lab the
per-node shares come from each node's bytes on its network link while the phase ran: a node's
rate is its bytes over the time it was moving them, and the nodes share fairly when those rates
are equal (Jain's index 1.0, min/max 1.0). The figure needs matplotlib (python3-matplotlib, for
/usr/bin/python3); everything else is the standard library, so the tests run it with any python3.
"""
import argparse
import csv
import os
import re
import statistics
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ioparse  # noqa: E402

MIB = 1 << 20
# A node counts as moving a phase's data while its link carries more than this share of its own
# peak rate in that direction (a sample's idle trickle — requests, acks — stays far below).
ACTIVE_SHARE = 0.05
WRAPPER_NOTE = re.compile(r"^ior \(lab wrapper\): (.*)$", re.M)


def slurp(path):
    with open(path, errors="replace") as f:
        return f.read()


def read_run(run_dir):
    """One run folder -> dict: nodes, job, IOR's report, the wrapper's note, the network samples."""
    info = {}
    with open(os.path.join(run_dir, "run.txt")) as f:
        for word in f.read().split():
            k, _, v = word.partition("=")
            info[k] = v
    text = slurp(os.path.join(run_dir, info["output"]))
    err_path = os.path.join(run_dir, re.sub(r"\.out$", ".err", info["output"]))
    err = slurp(err_path) if os.path.exists(err_path) else ""
    rep = ioparse.parse_ior(text)
    note = WRAPPER_NOTE.search(err + "\n" + text)
    note = note.group(1).split("; running")[0] if note else ""
    net_path = os.path.join(run_dir, "net.tsv")
    node_list = [n for n in info.get("node_list", "").split(",") if n]
    return {"nodes": int(info["nodes"]), "job": info.get("job"), "seconds": info.get("seconds"),
            "node_list": node_list, "tasks_per_node": info.get("tasks_per_node"),
            "ior": rep, "rates": ioparse.ior_phase_rates(rep), "scaled": note,
            "net": read_samples(net_path) if os.path.exists(net_path) else None}


def read_samples(path):
    """net.tsv ("seconds node rx tx" per line) -> {node: [(t, rx, tx)]} in time order."""
    per = {}
    for line in slurp(path).splitlines():
        f = line.split()
        if len(f) == 4:
            per.setdefault(f[1], []).append((float(f[0]), int(f[2]), int(f[3])))
    for v in per.values():
        v.sort()
    return per


def node_phase(samples, col):
    """A node's (bytes, active seconds) in one direction (col 1 = its uploads, 2 = its downloads):
    bytes in the intervals where it moved more than ACTIVE_SHARE of its peak rate, and the time
    from the first such interval's start to the last one's end."""
    steps = []
    for a, b in zip(samples, samples[1:]):
        dt = b[0] - a[0]
        if dt > 0:
            steps.append((a[0], b[0], b[col] - a[col]))
    if not steps:
        return 0, 0.0
    peak = max(d / (t1 - t0) for t0, t1, d in steps)
    active = [(t0, t1, d) for t0, t1, d in steps if peak > 0 and d / (t1 - t0) > ACTIVE_SHARE * peak]
    if not active:
        return 0, 0.0
    return sum(d for _, _, d in active), active[-1][1] - active[0][0]


def jain(xs):
    """Jain's fairness index: 1.0 when all equal, 1/n when one takes everything."""
    xs = [x for x in xs if x is not None]
    if not xs or sum(x * x for x in xs) == 0:
        return None
    return sum(xs) ** 2 / (len(xs) * sum(x * x for x in xs))


def fairness(run):
    """Per phase: each of the job's nodes' MiB moved and MiB/s while active, min/max and Jain's
    index over them (a node of the job that moved nothing counts as 0 MiB/s: the unfairest case)."""
    if not run["net"]:
        return None
    nodes = run["node_list"] or sorted(run["net"], key=lambda n: int(re.sub(r"\D", "", n) or 0))
    out = {}
    for phase, col in (("write", 1), ("read", 2)):
        per_node = {}
        for node in nodes:
            nbytes, secs = node_phase(run["net"].get(node, []), col)
            per_node[node] = (nbytes / MIB, nbytes / MIB / secs if secs > 0 else 0.0)
        rates = [r for _, r in per_node.values()]
        multi = len(rates) > 1
        out[phase] = {"nodes": per_node,
                      "min_over_max": (min(rates) / max(rates)) if multi and max(rates) > 0 else None,
                      "jain": jain(rates) if multi else None}
    return out


def table_rows(runs):
    """One row per node count: the median over its runs (scale.sh --repeat) of IOR's Max Write and
    Max Read, their min and max, per node = median / nodes. A run whose IOR saw another task or node
    count than asked is kept and flagged (ok False)."""
    rows = []
    for n in sorted({r["nodes"] for r in runs}):
        group = [r for r in runs if r["nodes"] == n]
        rep = group[0]["ior"]
        tasks = rep.get("tasks") or rep["summary"]["write"]["#Tasks"]
        tpn = rep.get("clients_per_node", tasks // n)
        row = {"nodes": n, "tasks": tasks, "tasks_per_node": tpn, "runs": len(group),
               "block_mib": rep["blocksize"] / MIB, "xfer_mib": rep["xfersize"] / MIB,
               "job": " ".join(str(r["job"]) for r in group), "ior_nodes": rep.get("nodes"),
               "ok": all(r["ior"].get("tasks") == tasks and r["ior"].get("nodes") == n for r in group)
               and tasks == n * tpn}
        for phase in ("write", "read"):
            vals = [r["rates"][phase] for r in group if r["rates"].get(phase) is not None]
            med = statistics.median(vals) if vals else None
            row[f"{phase}_mibs"] = med
            row[f"{phase}_min"] = min(vals) if vals else None
            row[f"{phase}_max"] = max(vals) if vals else None
            row[f"{phase}_per_node"] = med / n if med is not None else None
        rows.append(row)
    return rows


def fmt(v, nd=1):
    return "-" if v is None else f"{v:,.{nd}f}"


def write_table(rows, out):
    cols = ["nodes", "tasks", "tasks_per_node", "runs", "block_mib", "xfer_mib", "write_mibs", "read_mibs",
            "write_per_node", "read_per_node", "write_min", "write_max", "read_min", "read_max", "job"]
    with open(os.path.join(out, "table.csv"), "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=cols, extrasaction="ignore")
        w.writeheader()
        w.writerows(rows)
    many = any(r["runs"] > 1 for r in rows)
    head = ("| nodes | tasks | tasks/node | block × transfer | Max Write MiB/s | Max Read MiB/s "
            "| write per node | read per node |")
    rule = "|---:|---:|---:|---|---:|---:|---:|---:|"
    if many:
        head += " runs | write min–max | read min–max |"
        rule += "---:|---|---|"
    md = [head, rule]
    for r in rows:
        line = (f"| {r['nodes']} | {r['tasks']} | {r['tasks_per_node']} | {r['block_mib']:g} MiB × "
                f"{r['xfer_mib']:g} MiB | {fmt(r['write_mibs'])} | {fmt(r['read_mibs'])} | "
                f"{fmt(r['write_per_node'])} | {fmt(r['read_per_node'])} |")
        if many:
            line += (f" {r['runs']} | {fmt(r['write_min'], 0)}–{fmt(r['write_max'], 0)} | "
                     f"{fmt(r['read_min'], 0)}–{fmt(r['read_max'], 0)} |")
        md.append(line)
    text = "\n".join(md) + "\n"
    with open(os.path.join(out, "table.md"), "w") as f:
        f.write(text)
    return text


def plot(rows, out, title):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    xs = [r["nodes"] for r in rows]
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    for ax, suffix, label in ((axes[0], "mibs", "aggregate"), (axes[1], "per_node", "per node")):
        for phase, color in (("write", "#d62728"), ("read", "#1f77b4")):
            ys = [r[f"{phase}_{suffix}"] for r in rows]
            div = [1 if suffix == "mibs" else r["nodes"] for r in rows]
            lo = [y - r[f"{phase}_min"] / d if y is not None else 0 for y, r, d in zip(ys, rows, div)]
            hi = [r[f"{phase}_max"] / d - y if y is not None else 0 for y, r, d in zip(ys, rows, div)]
            # The median of the runs at each count; the bar spans their min to max.
            ax.errorbar(xs, ys, yerr=[lo, hi], marker="o", color=color, capsize=4, label=f"{phase}")
            for x, y in zip(xs, ys):
                if y is not None:
                    ax.annotate(f"{y:,.0f}", (x, y), textcoords="offset points", xytext=(0, 6),
                                ha="center", fontsize=8)
        ax.set_xticks(xs)
        ax.set_xlabel("nodes")
        ax.set_ylabel("MiB/s")
        ax.set_ylim(bottom=0)
        ax.set_title(f"IOR {label} throughput" + (" (median, min–max)" if any(r["runs"] > 1 for r in rows) else ""))
        ax.grid(alpha=0.3)
        ax.legend()
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(os.path.join(out, "scale.png"), dpi=110)
    plt.close(fig)


def fairness_section(runs):
    lines = ["## How the nodes shared the server", "",
             "Each node's bytes on its own network link (its veth, sampled on the host) while it moved a "
             "phase's data: a node's rate is its MiB over the seconds it was moving them. Equal rates mean a "
             "fair share (min/max and Jain's index 1.0; Jain's index is 1/n when one node takes everything).",
             "", "| nodes | job | phase | per node: MiB at MiB/s | min/max | Jain |", "|---:|---:|---|---|---:|---:|"]
    for r in sorted(runs, key=lambda r: (r["nodes"], int(r["job"] or 0))):
        f = fairness(r)
        if not f:
            continue
        for phase in ("write", "read"):
            p = f[phase]
            cells = ", ".join(f"{n}: {mib:,.0f} at {rate:,.0f}" for n, (mib, rate) in p["nodes"].items())
            lines.append(f"| {r['nodes']} | {r['job']} | {phase} | {cells or '-'} | {fmt(p['min_over_max'], 2)} | "
                         f"{fmt(p['jain'], 3)} |")
    return "\n".join(lines) + "\n"


def report(runs, rows, table_md, args):
    first, last = rows[0], rows[-1]
    scaled = sorted({r["scaled"] for r in runs if r["scaled"]})
    parts = [f"# {args.title}", "",
             f"The blog's job, `{os.path.basename(args.script)}`, run by `bench/slurm/scale.sh` on {args.where} "
             f"at {', '.join(str(r['nodes']) for r in rows)} node(s), {args.tasks_per_node} tasks per node, "
             f"IOR `-r -w -v -F -o=S@S@S -i=1 -a=POSIX --posix.odirect` through s3mount"
             + (f" against {args.server}" if args.server else "") + f"; {args.elapsed} s in all."
             + (f" Client: {args.client}." if args.client else ""), ""]
    if scaled:
        parts += ["Sizes differ from the blog's (`-b=2000m -t=50m`), " + "; ".join(scaled) + ". IOR ran: `"
                  + runs[0]["ior"].get("command", "?") + "`.", ""]
    bad = [r for r in rows if not r["ok"]]
    for r in bad:
        parts += [f"**Check failed**: the {r['nodes']}-node run's IOR saw {r['tasks']} tasks on "
                  f"{r['ior_nodes']} node(s), not {r['nodes']} × {r['tasks_per_node']}.", ""]
    nruns = max(r["runs"] for r in rows)
    parts += ["## The blog's table, per run", "",
              "Max Write / Max Read are IOR's (aggregate over all tasks: bytes over the time from the first "
              "open to the last close); per node is the aggregate over the node count."
              + (f" Each count ran {nruns} times (interleaved: 1, 2, 4, 1, 2, 4, …); the table and the figure "
                 "give the median and the min–max of IOR's figure over those runs, since one `-i=1` run on "
                 "a shared machine is a single noisy sample." if nruns > 1 else
                 " One run per count (`-i=1`): a single sample; `scale.sh --repeat R` gives medians."),
              "", table_md,
              "![IOR throughput against node count](scale.png)", ""]
    if args.lab:
        w_ratio = (last["write_mibs"] / first["write_mibs"]) if first["write_mibs"] else None
        r_ratio = (last["read_mibs"] / first["read_mibs"]) if first["read_mibs"] else None
        parts += ["## What this machine can and cannot show", "",
                  f"The lab's nodes are network namespaces on one machine of {args.cores} cores: every node's "
                  "IOR tasks, every node's s3mount and the S3 server share those cores and that one server. "
                  "Adding nodes adds no CPU, no network and no server capacity, so the aggregate is capped by "
                  "the machine and the per-node rate falls as nodes are added; on a real cluster each node "
                  "brings its own CPUs and NIC and the server (S3) scales out, which is what the blog's "
                  "Figure 1 shows. These numbers therefore say nothing about how s3mount scales across real "
                  "nodes; they show that the blog's job runs unchanged at every node count, what happens to the "
                  "aggregate when one machine's load is spread over more mounts, and whether the nodes get "
                  "fair shares.", "",
                  f"Here: from {first['nodes']} to {last['nodes']} node(s) the aggregate write went "
                  f"{fmt(first['write_mibs'])} → {fmt(last['write_mibs'])} MiB/s (×{fmt(w_ratio, 2)}) and the "
                  f"aggregate read {fmt(first['read_mibs'])} → {fmt(last['read_mibs'])} MiB/s (×{fmt(r_ratio, 2)}); "
                  f"per node, write {fmt(first['write_per_node'])} → {fmt(last['write_per_node'])} and read "
                  f"{fmt(first['read_per_node'])} → {fmt(last['read_per_node'])} MiB/s.", "",
                  fairness_section(runs)]
    if not any(r["net"] for r in runs):
        parts += ["Per-node shares were not measured: scale.sh samples each node's network counters only "
                  "in the lab; per node above is the aggregate over the node count.", ""]
    parts += ["## Reading it", "",
              "- Check each run's header first (`runs/nN-rR/*.out`: N nodes, repetition R): `tasks` must be nodes × tasks per node and "
              "`nodes` the node count; an IOR built with another MPI than the job's `mpirun` runs every rank "
              "as a one-task IOR (tasks 1).",
              "- Write includes each file's upload at close (`close(s)` in the Results rows); read goes to the "
              "server (`--posix.odirect` bypasses the page cache).",
              "- Files: `table.csv`/`table.md` (this table), `scale.png` (the figure), `runs/nN-rR/` (each job's "
              "output, its stderr, `run.txt` and, in the lab, `net.tsv`).", ""]
    with open(os.path.join(args.out, "report.md"), "w") as f:
        f.write("\n".join(parts))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--lab", action="store_true")
    ap.add_argument("--where", default="a Slurm cluster")
    ap.add_argument("--server", default="")
    ap.add_argument("--client", default="", help="s3mount's version, e.g. 's3mount 0.1.0 (commit abc123)'")
    ap.add_argument("--script", default="bench/slurm/blog-ior.sbatch")
    ap.add_argument("--tasks-per-node", default="?")
    ap.add_argument("--cores", default=str(os.cpu_count()))
    ap.add_argument("--elapsed", default="?")
    ap.add_argument("--title", default="IOR through s3mount: throughput against node count")
    ap.add_argument("--no-figure", action="store_true", help="skip the PNG (no matplotlib)")
    ap.add_argument("runs", nargs="+")
    args = ap.parse_args(argv)
    try:
        runs = [read_run(d) for d in args.runs]
    except (ioparse.ParseError, OSError, KeyError) as e:
        print(f"scale_report.py: error: {e}", file=sys.stderr)
        return 1
    rows = table_rows(runs)
    table_md = write_table(rows, args.out)
    if not args.no_figure:
        plot(rows, args.out, args.title)
    report(runs, rows, table_md, args)
    print(table_md, end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
