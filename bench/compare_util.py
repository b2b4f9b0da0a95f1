"""compare_util.py: compare.py's process, mount and measurement helpers (no state of a run), so
that compare.py and compare_extra.py share them."""
import os
import re
import signal
import statistics
import subprocess
import threading
import time

MIB = 1 << 20
GIB = 1 << 30
BUCKET = "bench-compare"
# The raw capacity uses the same ranged GET / PUT size as s3mount's default part.
RAW_PART = 8 * MIB


def size_bytes(text):
    m = re.fullmatch(r"(\d+)([kmgKMG]?)", text)
    return int(m.group(1)) << {"": 0, "k": 10, "m": 20, "g": 30}[m.group(2).lower()]


def log(msg):
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


class Failure(Exception):
    pass


def run_measured(cmd, logf, timeout, env=None):
    """Runs cmd (list) with stdout+stderr appended to logf; returns (wall_s, child_cpu_s, stdout)."""
    with open(logf, "a") as lf:
        lf.write(f"\n$ {' '.join(cmd)}\n")
    out_path = logf + ".out"
    with open(out_path, "w") as out, open(logf, "a") as err:
        t0 = time.perf_counter()
        p = subprocess.Popen(cmd, stdout=out, stderr=err, env=env, start_new_session=True)
        deadline = t0 + timeout
        while True:
            pid, status, ru = os.wait4(p.pid, os.WNOHANG)
            if pid:
                break
            if time.perf_counter() > deadline:
                os.killpg(p.pid, signal.SIGKILL)
                pid, status, ru = os.wait4(p.pid, 0)
                raise Failure(f"timeout after {timeout} s: {' '.join(cmd[:3])}...")
            time.sleep(0.02)
        wall = time.perf_counter() - t0
    text = open(out_path).read()
    with open(logf, "a") as lf:
        lf.write(text[-4000:])
    rc = os.waitstatus_to_exitcode(status)
    if rc != 0:
        tail = open(logf).read().strip().splitlines()[-3:]
        raise Failure(f"exit {rc}: {' | '.join(tail)[:300]}")
    return wall, ru.ru_utime + ru.ru_stime, text


def is_mounted(path):
    with open("/proc/self/mountinfo") as f:
        return any(line.split()[4] == path for line in f)


def pids_with_arg(path):
    """The processes whose argv holds `path` (the mount daemons), excluding this runner."""
    pids = []
    for d in os.listdir("/proc"):
        if not d.isdigit() or int(d) == os.getpid():
            continue
        try:
            args = open(f"/proc/{d}/cmdline", "rb").read().split(b"\0")
        except OSError:
            continue
        if path.encode() in args:
            pids.append(int(d))
    return pids


def proc_cpu(pids):
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for pid in pids:
        try:
            fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / tick   # utime, stime
        except OSError:
            pass
    return total


def machine_cpu():
    """(busy, total, steal) CPU seconds of the whole machine since boot, from /proc/stat.
    Steal is time the hypervisor gave this VM's vCPUs to someone else."""
    f = [int(x) for x in open("/proc/stat").readline().split()[1:]]
    hz = os.sysconf("SC_CLK_TCK")
    idle = f[3] + f[4]
    return (sum(f[:8]) - idle) / hz, sum(f[:8]) / hz, f[7] / hz


def server_pids(rgw_dir):
    """The benchmark server's processes (monitor, OSD, RGW), from bench/rgw.sh's pid files;
    read anew each time, since the memory check restarts the server."""
    run = os.path.join(rgw_dir, "run")
    pids = []
    for name in os.listdir(run) if os.path.isdir(run) else []:
        if name.endswith(".pid"):
            try:
                pids.append(int(open(os.path.join(run, name)).read().strip()))
            except (OSError, ValueError):
                pass
    return pids


class CpuMeter:
    """CPU seconds over one workload: the whole machine's busy time and the server's own.
    Client and server share the cores, so a client's throughput is bounded by what the
    machine spends per byte moved, server and client together (docs/BENCHMARKS.md)."""

    def __init__(self, rgw_dir):
        self.rgw_dir = rgw_dir
        self.machine0 = machine_cpu()[0]
        self.server0 = proc_cpu(server_pids(rgw_dir))

    def stop(self):
        """(machine busy CPU s, server CPU s) since the meter started."""
        return (machine_cpu()[0] - self.machine0,
                proc_cpu(server_pids(self.rgw_dir)) - self.server0)


def per_gib(seconds, nbytes):
    """CPU seconds per GiB moved, or "" where too little moved for the figure to mean much."""
    return round(seconds / (nbytes / GIB), 3) if nbytes >= 64 * MIB else ""


def add_cpu_fields(row, meter, nbytes):
    """Adds the meter's readings to a sample row."""
    machine, server = meter.stop()
    row.update(machine_cpu_s=round(machine, 3), server_cpu_s=round(server, 3),
               machine_s_per_gib=per_gib(machine, nbytes), server_s_per_gib=per_gib(server, nbytes))


class BusySampler:
    """The machine's busy share (all CPUs, from /proc/stat) while a workload runs: over the
    whole workload, and the median of its 0.1 s slices. The median slice is the steady state:
    the whole share also counts mpirun's start and stop, ~0.4 s of a 1.5 s IOR run with little
    to do (whole 70-75% busy where the I/O phase itself sampled 85-100%)."""

    def __init__(self, interval=0.1):
        self.interval = interval
        self.slices = []
        self.first = machine_cpu()
        self.stop_event = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        busy0, total0, _ = self.first
        while not self.stop_event.wait(self.interval):
            busy1, total1, _ = machine_cpu()
            if total1 > total0:
                self.slices.append(100 * (busy1 - busy0) / (total1 - total0))
            busy0, total0 = busy1, total1

    def stop(self):
        """(whole-workload busy %, median slice busy % or None if shorter than a slice)."""
        self.stop_event.set()
        self.thread.join()
        busy, total, _ = machine_cpu()
        whole = 100 * (busy - self.first[0]) / max(total - self.first[1], 1e-9)
        return round(whole, 1), round(statistics.median(self.slices), 1) if self.slices else None


def drop_page_cache():
    """Every workload starts with a cold page cache, whatever earlier clients left in it. In one
    run without this, s3mount's buffered dd cost 0.64, 1.24 and 1.09 CPU s/GiB in its three
    rounds (suspected: with little free memory the kernel cuts readahead short, as its
    allocations do not wait for reclaim, and the reads come in smaller requests). Needs root."""
    os.sync()
    try:
        with open("/proc/sys/vm/drop_caches", "w") as f:
            f.write("3")
    except OSError:
        pass


def reset_hwm(pids):
    for pid in pids:
        try:
            with open(f"/proc/{pid}/clear_refs", "w") as f:
                f.write("5")   # resets VmHWM to the current RSS
        except OSError:
            pass


def proc_hwm_mib(pids):
    total = 0
    for pid in pids:
        try:
            for line in open(f"/proc/{pid}/status"):
                if line.startswith("VmHWM:"):
                    total += int(line.split()[1])
        except OSError:
            pass
    return total / 1024


class RgwLog:
    """Counts the S3 requests RGW served between two marks, from its beast access lines
    (logged at debug_rgw 1, Ceph's default), classified by operation."""

    LINE = re.compile(r'beast: \S+ \S+ - \S+ \[[^\]]*\] "(\w+) ([^ ]*) HTTP')

    def __init__(self, path):
        self.path = path

    def mark(self):
        return os.path.getsize(self.path) if os.path.exists(self.path) else 0

    def count(self, start):
        time.sleep(0.3)  # RGW writes the access line after the response
        counts = {}
        if start > self.mark():
            start = 0   # a restarted RGW (bench/rgw.sh start) recreates its log
        with open(self.path, "rb") as f:
            f.seek(start)
            for raw in f:
                m = self.LINE.search(raw.decode(errors="replace"))
                if not m:
                    continue
                op = self.classify(m.group(1), m.group(2))
                counts[op] = counts.get(op, 0) + 1
        return counts

    @staticmethod
    def classify(method, target):
        path, _, query = target.partition("?")
        is_bucket = path.strip("/").count("/") == 0
        q = query.split("&")
        if method == "GET":
            return "List" if is_bucket else "Get"
        if method == "HEAD":
            return "HeadBucket" if is_bucket else "Head"
        if method == "PUT":
            return "UploadPart" if any(x.startswith("partNumber=") for x in q) else "Put"
        if method == "POST":
            return "CreateMPU" if "uploads" in q or "uploads=" in q else "CompleteMPU"
        if method == "DELETE":
            return "AbortMPU" if any(x.startswith("uploadId=") for x in q) else "Delete"
        return method


def fmt_counts(counts):
    return " ".join(f"{k}={v}" for k, v in sorted(counts.items())) or "none"

