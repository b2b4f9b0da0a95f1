#!/usr/bin/env python3
"""compare.py: the side-by-side benchmark of s3mount, s3fs and rclone on one RGW (issue 4).

Driven by bench/compare.sh, which starts the server and passes RGW_ENDPOINT, RGW_ACCESS_KEY
and RGW_SECRET_KEY in the environment. For each round, in a client order rotated by one every
round, each client is mounted fresh for every workload (so CPU, peak RSS and S3 requests belong
to that workload alone and no client starts with a warm cache), the workload runs, and the
client is unmounted. Every sample goes to compare-samples.csv; medians to compare.csv and
compare.md. The control plane (bucket, data sets, clean-up) uses boto3; the raw capacity uses
curl --parallel over presigned URLs. See docs/BENCHMARKS.md for what each figure means.

Also the helper for the load generators that are plain file I/O (small files, time to first
byte, parallel readers): `compare.py --helper NAME ARGS...` (run as a child, so that its CPU
time and wall time are measured like any other load generator's).

Shared helpers are in compare_util.py, the memfs run and the memory check in compare_extra.py,
the metadata workloads (mdtest, smallfiles-ttl) in compare_meta.py,
the tables in compare_report.py.
"""
import argparse
import concurrent.futures
import csv
import datetime
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import time

from compare_extra import ExtraRuns
from compare_cache import CACHE_CLIENTS, CACHE_WORKLOADS, CacheRuns
from compare_meta import META_WORKLOADS, MetaRuns
from compare_util import (BUCKET, GIB, MIB, RAW_PART, BusySampler, CpuMeter, Failure, RgwLog,
                          add_cpu_fields, drop_page_cache, fmt_counts, is_mounted, log, machine_cpu,
                          per_gib, pids_with_arg, proc_cpu, proc_hwm_mib, reset_hwm, run_measured,
                          size_bytes)

ALL_CLIENTS = ["s3mount", "s3fs", "rclone-off", "rclone-writes", "s3mount-posix"] + CACHE_CLIENTS
ALL_WORKLOADS = ["ior-write", "ior-read", "dd", "randread", "small-write", "small-read", "ls", "ttfb",
                 "append"] + META_WORKLOADS + CACHE_WORKLOADS
APPEND_BYTES = MIB  # the append workload adds 1 MiB to a copy of data/big
RAW_PARALLEL = 16   # requests in flight for the raw capacity (BENCH-SERVER.md: 8-16 saturate RGW)

# Sizes per mode. "full" is issue 4's shape (memory check: 8 readers of 1 GiB objects); "quick"
# keeps every workload but smaller (~5 min).
MODES = {
    "full": dict(rounds=3, ior_block="512m", ior_transfer="16m", tasks=2, big=1 * GIB,
                 randread_s=20, small_files=1000, small_size=256 * 1024, small_threads=8,
                 ls_objects=10000, ttfb_samples=9, raw_get=2 * GIB, raw_put=1 * GIB,
                 mem_readers=8, mem_size=1 * GIB, memfs_size=1 * GIB, timeout=300),
    "quick": dict(rounds=1, ior_block="128m", ior_transfer="16m", tasks=2, big=256 * MIB,
                  randread_s=5, small_files=200, small_size=256 * 1024, small_threads=8,
                  ls_objects=2000, ttfb_samples=5, raw_get=512 * MIB, raw_put=256 * MIB,
                  mem_readers=8, mem_size=128 * MIB, memfs_size=1 * GIB, timeout=120),
}


# ---------------------------------------------------------------------------------------------
# Helpers run as children (the load generators that are plain file I/O)

def helper(argv):
    name = argv[0]
    if name == "small-write":   # DIR N SIZE THREADS
        d, n, size, threads = argv[1], int(argv[2]), int(argv[3]), int(argv[4])
        os.makedirs(d, exist_ok=True)
        data = os.urandom(size)

        def one(i):
            fd = os.open(f"{d}/f-{i:05d}", os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o644)
            try:
                view = memoryview(data)
                while view:
                    view = view[os.write(fd, view[:MIB]):]
            finally:
                os.close(fd)
        with concurrent.futures.ThreadPoolExecutor(threads) as ex:
            list(ex.map(one, range(n)))
    elif name == "small-read":  # DIR N SIZE THREADS
        d, n, size, threads = argv[1], int(argv[2]), int(argv[3]), int(argv[4])

        def one(i):
            got = 0
            with open(f"{d}/f-{i:05d}", "rb", buffering=0) as f:
                while chunk := f.read(MIB):
                    got += len(chunk)
            if got != size:
                raise RuntimeError(f"f-{i:05d}: read {got} bytes, expected {size}")
        with concurrent.futures.ThreadPoolExecutor(threads) as ex:
            list(ex.map(one, range(n)))
    elif name == "ttfb":        # FILE...  prints one latency in seconds per file
        for path in argv[1:]:
            t0 = time.perf_counter()
            fd = os.open(path, os.O_RDONLY)
            b = os.read(fd, 1)
            t1 = time.perf_counter()
            os.close(fd)
            if len(b) != 1:
                raise RuntimeError(f"{path}: read returned {len(b)} bytes")
            print(f"{t1 - t0:.6f}")
    elif name == "append":      # FILE NBYTES  appends NBYTES and closes (the upload included)
        with open(argv[1], "ab") as f:
            f.write(os.urandom(int(argv[2])))
    elif name == "ls":          # DIR EXPECTED
        out = subprocess.run(["ls", "-l", argv[1]], check=True, capture_output=True, text=True)
        n = sum(1 for line in out.stdout.splitlines() if not line.startswith("total"))
        if n != int(argv[2]):
            raise RuntimeError(f"ls -l listed {n} entries, expected {argv[2]}")
    else:
        raise SystemExit(f"unknown helper {name}")


# ---------------------------------------------------------------------------------------------

class Bench(ExtraRuns, MetaRuns, CacheRuns):
    def __init__(self, args):
        self.a = args
        self.p = dict(MODES["quick" if args.quick else "full"])
        for key in ("rounds", "ls_objects", "small_files", "randread_s", "timeout"):
            if getattr(args, key) is not None:
                self.p[key] = getattr(args, key)
        if args.big is not None:
            self.p["big"] = size_bytes(args.big)
        if args.ior_block is not None:
            self.p["ior_block"] = args.ior_block
        self.work = os.path.abspath(args.work_dir)
        self.logs = os.path.join(self.work, "logs")
        self.results = os.path.abspath(args.results)
        for d in (self.work, self.logs, self.results, f"{self.work}/mnt", f"{self.work}/shm"):
            os.makedirs(d, exist_ok=True)
        self.endpoint = os.environ["RGW_ENDPOINT"]
        self.key = os.environ["RGW_ACCESS_KEY"]
        self.secret = os.environ["RGW_SECRET_KEY"]
        self.rgwlog = RgwLog(os.environ.get("RGW_LOG", ""))
        self.rgw_dir = os.environ.get("RGW_DIR", "")  # its pid files: the server's CPU
        self.mounts = {}       # mountpoint -> pids (for clean-up)
        self.children = []     # background processes we started (memfs, null)
        self.samples = []      # dicts
        self.failures = []     # (client, workload, round, reason, logfile)
        self.ior = shutil.which("ior") or ("/opt/ior/bin/ior" if os.access("/opt/ior/bin/ior", os.X_OK) else None)
        if args.no_ior:
            self.ior = None
        self.s3 = self.s3_client()
        self.s3mount = args.s3mount
        self.reported = False
        self.t0 = time.time()
        self.steal0 = machine_cpu()[2]
        self.started = datetime.datetime.now(datetime.timezone.utc)
        self.memory = None
        self.failed = set()
        self.memfs = args.memfs

    # ----- S3 control plane
    def s3_client(self):
        import boto3
        from botocore.config import Config
        return boto3.client("s3", endpoint_url=self.endpoint, aws_access_key_id=self.key,
                            aws_secret_access_key=self.secret, region_name="us-east-1",
                            config=Config(signature_version="s3v4", s3={"addressing_style": "path"},
                                          max_pool_connections=32, connect_timeout=10,
                                          read_timeout=60, retries={"max_attempts": 2}))

    def put_file_as(self, path, key):
        from boto3.s3.transfer import TransferConfig
        self.s3.upload_file(path, BUCKET, key, Config=TransferConfig(
            multipart_chunksize=64 * MIB, max_concurrency=8))

    def delete_prefix(self, prefix):
        pager = self.s3.get_paginator("list_objects_v2")
        for page in pager.paginate(Bucket=BUCKET, Prefix=prefix):
            keys = [{"Key": o["Key"]} for o in page.get("Contents", [])]
            if keys:
                self.s3.delete_objects(Bucket=BUCKET, Delete={"Objects": keys, "Quiet": True})

    def presign(self, method, key, expires=7200):
        return self.s3.generate_presigned_url(method, Params={"Bucket": BUCKET, "Key": key},
                                              ExpiresIn=expires)

    def curl_parallel(self, entries, logf, timeout):
        """entries: list of config blocks; returns (wall, cpu) of one curl --parallel process."""
        cfg = f"{self.work}/curl.cfg"
        with open(cfg, "w") as f:
            f.write("\nnext\n".join(entries) + "\n")
        cmd = ["curl", "--silent", "--show-error", "--fail", "--parallel", "--parallel-max",
               str(RAW_PARALLEL), "-K", cfg]
        wall, cpu, _ = run_measured(cmd, logf, timeout)
        return wall, cpu

    def setup_data(self):
        log(f"creating bucket {BUCKET} and the data sets")
        try:
            self.s3.create_bucket(Bucket=BUCKET)
        except self.s3.exceptions.BucketAlreadyOwnedByYou:
            pass
        big = f"{self.work}/shm/big"
        subprocess.run(["head", "-c", str(self.p["big"]), "/dev/urandom"], check=True,
                       stdout=open(big, "wb"))
        self.put_file_as(big, "data/big")
        os.unlink(big)
        for i in range(self.p["ttfb_samples"]):
            self.s3.put_object(Bucket=BUCKET, Key=f"ttfb/t-{i}", Body=os.urandom(64 * 1024))
        # The ls directory: a parallel uploader (curl), not through a mount.
        body = f"{self.work}/shm/1k"
        with open(body, "wb") as f:
            f.write(os.urandom(1024))
        n = self.p["ls_objects"]
        entries = [f'url = "{self.presign("put_object", f"ls/f-{i:05d}")}"\nupload-file = "{body}"\n'
                   f'output = "/dev/null"' for i in range(n)]
        t0 = time.time()
        self.curl_parallel(entries, f"{self.logs}/setup-ls.log", 600)
        log(f"uploaded {n} objects for ls in {time.time() - t0:.1f} s")
        self.setup_meta()

    # ----- mounts
    def mount(self, client, logdir, keep_cache=False):
        mnt = f"{self.work}/mnt/{client}"
        os.makedirs(mnt, exist_ok=True)
        if is_mounted(mnt):
            self.unmount(mnt)
        env = dict(os.environ, AWS_ACCESS_KEY_ID=self.key, AWS_SECRET_ACCESS_KEY=self.secret)
        cache_args = self.cache_mount_args(client, keep_cache)
        if client in ("s3mount", "s3mount-posix", "s3mount-cache"):
            cmd = [self.s3mount, "--endpoint-url", self.endpoint, "--force-path-style",
                   "--allow-delete", "--allow-overwrite", "-l", logdir, BUCKET, mnt]
            if client == "s3mount-posix":  # modes and times kept: a HEAD per listed file
                cmd.insert(1, "--posix")
            cmd[1:1] = cache_args
        elif client in ("s3fs", "s3fs-cache"):
            pw = f"{self.work}/s3fs.passwd"
            with open(pw, "w") as f:
                f.write(f"{self.key}:{self.secret}\n")
            os.chmod(pw, 0o600)
            cmd = ["s3fs", BUCKET, mnt, "-o", f"url={self.endpoint}", "-o", "use_path_request_style",
                   "-o", f"passwd_file={pw}", "-o", f"logfile={logdir}/s3fs.log", "-o", "dbglevel=warn"]
            cmd += cache_args
        elif client.startswith("rclone"):
            mode = client.split("-")[1]
            env.pop("AWS_CA_BUNDLE", None)   # rclone refuses to start with it set
            env.update(RCLONE_CONFIG_BENCH_TYPE="s3", RCLONE_CONFIG_BENCH_PROVIDER="Ceph",
                       RCLONE_CONFIG_BENCH_ENDPOINT=self.endpoint,
                       RCLONE_CONFIG_BENCH_ACCESS_KEY_ID=self.key,
                       RCLONE_CONFIG_BENCH_SECRET_ACCESS_KEY=self.secret,
                       RCLONE_CONFIG_BENCH_FORCE_PATH_STYLE="true")
            shutil.rmtree(f"{self.work}/rclone-cache", ignore_errors=True)  # no warm cache
            cmd = ["rclone", "mount", f"bench:{BUCKET}", mnt, "--daemon", "--vfs-cache-mode", mode,
                   "--cache-dir", f"{self.work}/rclone-cache", "--log-file", f"{logdir}/rclone.log"]
            cmd += cache_args  # rclone-full: a --cache-dir of its own, kept across a remount
        else:
            raise ValueError(client)
        with open(f"{logdir}/mount.log", "a") as lf:
            lf.write("$ " + " ".join(cmd) + "\n")
            r = subprocess.run(cmd, env=env, stdout=lf, stderr=lf, timeout=60)
        for _ in range(300):
            if is_mounted(mnt):
                break
            time.sleep(0.1)
        if r.returncode != 0 or not is_mounted(mnt):
            raise Failure(f"mount failed (exit {r.returncode}), see {logdir}/mount.log")
        pids = []
        for _ in range(50):
            pids = pids_with_arg(mnt)
            if pids:
                break
            time.sleep(0.1)
        self.mounts[mnt] = pids
        return mnt, pids

    def unmount(self, mnt):
        pids = self.mounts.pop(mnt, None) or pids_with_arg(mnt)
        for cmd in (["fusermount3", "-u", mnt], ["umount", mnt], ["umount", "-l", mnt]):
            if not is_mounted(mnt):
                break
            subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=60)
            for _ in range(50):
                if not is_mounted(mnt):
                    break
                time.sleep(0.1)
        # The daemons exit after unmount (s3mount logs its request counts then).
        deadline = time.time() + 60
        for pid in pids:
            while time.time() < deadline and os.path.exists(f"/proc/{pid}"):
                time.sleep(0.1)
            if os.path.exists(f"/proc/{pid}"):
                os.kill(pid, signal.SIGKILL)

    def cleanup(self):
        for mnt in list(self.mounts):
            try:
                self.unmount(mnt)
            except Exception as e:  # noqa: BLE001 - clean-up must go on
                print(f"clean-up: {mnt}: {e}", file=sys.stderr)
        for p in self.children:
            if p.poll() is None:
                p.kill()
                p.wait()

    # ----- workloads
    def ior_cmd(self, phase, mnt, client):
        d = f"{mnt}/ior-{client}"
        if self.ior:
            os.makedirs(d, exist_ok=True)
            return ["mpirun", "--oversubscribe", "-np", str(self.p["tasks"]), self.ior, phase, "-k", "-F",
                    "-o", f"{d}/testfile", "-b", self.p["ior_block"], "-t", self.p["ior_transfer"],
                    "-a", "POSIX", "--posix.odirect"]
        return ["fio", "--name=ior", f"--directory={d}", f"--numjobs={self.p['tasks']}", "--direct=1",
                f"--bs={self.p['ior_transfer']}", f"--size={self.p['ior_block']}", "--ioengine=psync",
                f"--rw={'write' if phase == '-w' else 'read'}", "--group_reporting",
                "--output-format=json", "--fallocate=none", "--create_on_open=1"] + \
            (["--readonly"] if phase == "-r" else [])

    def seed_ior_files(self, client):
        """Uploads the files ior-read expects, when the client could not write them itself."""
        block = size_bytes(self.p["ior_block"])
        src = f"{self.work}/shm/ior-seed"
        subprocess.run(["head", "-c", str(block), "/dev/urandom"], check=True, stdout=open(src, "wb"))
        for i in range(self.p["tasks"]):
            name = f"testfile.{i:08d}" if self.ior else f"ior.{i}.0"
            self.put_file_as(src, f"ior-{client}/{name}")
        os.unlink(src)

    def wait_uploaded(self, client, prefix, nfiles, nbytes):
        """rclone --vfs-cache-mode writes acknowledges writes from its local cache and uploads
        later (and an unmount does not wait for that): its write figure is local disk. Before
        unmounting, wait until S3 holds what was written, so that the readers that follow find it;
        the wait is logged, not counted in the figure."""
        if client != "rclone-writes":
            return
        t0 = time.time()
        since = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(seconds=self.p["timeout"])
        while time.time() - t0 < self.p["timeout"]:
            got = [o["Size"] for page in self.s3.get_paginator("list_objects_v2").paginate(
                Bucket=BUCKET, Prefix=prefix) for o in page.get("Contents", []) if o["LastModified"] > since]
            if len(got) >= nfiles and sum(got) >= nbytes:
                self.upload_wait = time.time() - t0
                log(f"{client}: uploads of {prefix} done {self.upload_wait:.1f} s after the writer returned")
                return
            time.sleep(0.5)
        raise Failure(f"{prefix}: rclone had not uploaded {nfiles} files in {self.p['timeout']} s")

    def workload(self, client, wl, mnt, logf):
        """Runs one workload; returns (value, unit, bytes, ops, wall, loadgen_cpu, extra)."""
        p, t = self.p, self.p["timeout"]
        env = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")
        if wl in META_WORKLOADS:
            return self.meta_workload(client, wl, mnt, logf, env)
        if wl in CACHE_WORKLOADS:
            return self.cache_workload(client, wl, mnt, logf, os.path.dirname(logf))
        if wl in ("ior-write", "ior-read"):
            phase = "-w" if wl == "ior-write" else "-r"
            if phase == "-w":
                os.makedirs(f"{mnt}/ior-{client}", exist_ok=True)
            wall, cpu, out = run_measured(self.ior_cmd(phase, mnt, client), logf, t, env)
            nbytes = p["tasks"] * size_bytes(p["ior_block"])
            if phase == "-w":
                self.wait_uploaded(client, f"ior-{client}/", p["tasks"], nbytes)
            if self.ior:
                m = re.findall(r"^(?:write|read)\s+([\d.]+)\s", out, re.M)
                if not m:
                    raise Failure("no write/read result line in the IOR output")
                mibs = float(m[-1])  # "Summary of all tests": Max(MiB)
            else:
                j = json.loads(out[out.index("{"):])
                job = j["jobs"][0]["write" if phase == "-w" else "read"]
                mibs = job["bw_bytes"] / MIB
            return mibs, "MiB/s", nbytes, 0, wall, cpu
        if wl == "dd":
            wall, cpu, _ = run_measured(["dd", f"if={mnt}/data/big", "of=/dev/null", "bs=1M"], logf, t)
            return p["big"] / MIB / wall, "MiB/s", p["big"], 0, wall, cpu
        if wl == "randread":
            cmd = ["fio", "--name=rr", f"--filename={mnt}/data/big", "--rw=randread", "--bs=4k",
                   "--direct=1", "--ioengine=psync", f"--runtime={p['randread_s']}", "--time_based",
                   "--readonly", "--invalidate=0", "--output-format=json"]
            wall, cpu, out = run_measured(cmd, logf, t + p["randread_s"])
            j = json.loads(out[out.index("{"):])
            rd = j["jobs"][0]["read"]
            return rd["iops"], "ops/s", rd["io_bytes"], rd["total_ios"], wall, cpu
        n, size, thr = p["small_files"], p["small_size"], str(p["small_threads"])
        me = [sys.executable, os.path.abspath(__file__), "--helper"]
        if wl in ("small-write", "small-read"):
            wall, cpu, _ = run_measured(me + [wl, f"{mnt}/small-{client}", str(n), str(size), thr], logf, t)
            if wl == "small-write":
                self.wait_uploaded(client, f"small-{client}/", n, n * size)
            return n / wall, "files/s", n * size, n, wall, cpu
        if wl == "ls":
            wall, cpu, _ = run_measured(me + ["ls", f"{mnt}/ls", str(p["ls_objects"])], logf, t)
            return wall, "s", 0, p["ls_objects"], wall, cpu
        if wl == "append":
            wall, cpu, _ = run_measured(me + ["append", f"{mnt}/append/{client}", str(APPEND_BYTES)],
                                        logf, t)
            self.wait_uploaded(client, f"append/{client}", 1, p["big"] + APPEND_BYTES)
            got = self.s3.head_object(Bucket=BUCKET, Key=f"append/{client}")["ContentLength"]
            if got != p["big"] + APPEND_BYTES:
                raise Failure(f"append: the object has {got} bytes, expected {p['big'] + APPEND_BYTES}")
            return wall, "s", APPEND_BYTES, 1, wall, cpu
        if wl == "ttfb":
            files = [f"{mnt}/ttfb/t-{i}" for i in range(p["ttfb_samples"])]
            wall, cpu, out = run_measured(me + ["ttfb"] + files, logf, t)
            lat = [float(x) for x in out.split()]
            return statistics.median(lat) * 1000, "ms", 0, len(lat), wall, cpu
        raise ValueError(wl)

    def after_workload(self, client, wl):
        """Deletes what a workload wrote, once its readers are done (keeps memstore small)."""
        if wl == "ior-read":
            self.delete_prefix(f"ior-{client}/")
        if wl == "small-read":
            self.delete_prefix(f"small-{client}/")
        if wl == "append":
            self.delete_prefix(f"append/{client}")
        self.after_meta(client, wl)

    def run_client(self, rnd, client):
        for wl in self.a.workloads:
            tag = f"r{rnd}-{client}-{wl}"
            logdir = f"{self.logs}/{tag}"
            shutil.rmtree(logdir, ignore_errors=True)  # a previous run's logs would be counted
            os.makedirs(logdir, exist_ok=True)
            logf = f"{logdir}/workload.log"
            row = dict(round=rnd, client=client, workload=wl)
            mnt = None
            sampler = None
            try:
                if wl == "ior-read" and (client, "ior-write", rnd) in self.failed:
                    self.seed_ior_files(client)
                    row["reason"] = "read files uploaded with boto3 (this client's ior-write failed)"
                elif wl == "ior-read" and "ior-write" not in self.a.workloads:
                    self.seed_ior_files(client)  # --workloads without ior-write
                if wl == "small-read" and (client, "small-write", rnd) in self.failed:
                    raise Failure("skipped: small-write failed")
                if wl == "append":  # a fresh copy of data/big, made on the server
                    self.s3.copy_object(Bucket=BUCKET, Key=f"append/{client}",
                                        CopySource={"Bucket": BUCKET, "Key": "data/big"})
                drop_page_cache()
                mnt, pids = self.mount(client, logdir)
                cpu0 = proc_cpu(pids)
                meter = CpuMeter(self.rgw_dir)
                sampler = BusySampler()
                reset_hwm(pids)
                mark = self.rgwlog.mark()
                self.upload_wait = None
                value, unit, nbytes, ops, wall, gen_cpu = self.workload(client, wl, mnt, logf)
                cpu = proc_cpu(pids) - cpu0
                busy_whole, busy_median = sampler.stop()
                add_cpu_fields(row, meter, nbytes)
                row.update(value=round(value, 3), unit=unit, wall_s=round(wall, 3),
                           client_cpu_s=round(cpu, 3), loadgen_cpu_s=round(gen_cpu, 3),
                           cpu_s_per_gib=per_gib(cpu, nbytes), loadgen_s_per_gib=per_gib(gen_cpu, nbytes),
                           cpu_ms_per_op=round(cpu * 1000 / ops, 4) if ops else "",
                           peak_rss_mib=round(proc_hwm_mib(pids), 1), nprocs=len(pids),
                           machine_busy_pct=busy_whole,
                           machine_busy_median_pct=busy_median if busy_median is not None else "",
                           load1=open("/proc/loadavg").read().split()[0])
                if self.upload_wait is not None:
                    row["upload_wait_s"] = round(self.upload_wait, 2)
                self.unmount(mnt)
                mnt = None
                counts = self.rgwlog.count(mark)
                row.update(requests=fmt_counts(counts), requests_total=sum(counts.values()))
                if client.startswith("s3mount"):
                    row["s3mount_log_requests"] = self.s3mount_counts(logdir)
                log(f"{tag}: {row['value']} {unit} (cpu {row['client_cpu_s']} s, rss {row['peak_rss_mib']} MiB,"
                    f" {row['requests']})")
            except Exception as e:  # noqa: BLE001 - a failing client must not stop the run
                reason = str(e) if isinstance(e, Failure) else f"{type(e).__name__}: {e}"
                row.update(value="fail", reason=reason)
                self.failed.add((client, wl, rnd))
                self.failures.append((client, wl, rnd, reason, logf))
                log(f"{tag}: FAIL {reason}")
            finally:
                if sampler:
                    sampler.stop()  # after a failure: its thread must not outlive the workload
                if mnt:
                    try:
                        self.unmount(mnt)
                    except Exception as e:  # noqa: BLE001
                        log(f"{tag}: unmount: {e}")
                try:
                    self.after_workload(client, wl)
                except Exception as e:  # noqa: BLE001
                    log(f"{tag}: clean-up: {e}")
            self.samples.append(row)
            self.samples.extend(self.meta_extra_rows(row))
            self.samples.extend(self.cache_extra_rows(row))
            self.write_samples()

    @staticmethod
    def s3mount_counts(logdir):
        text = ""
        for name in sorted(os.listdir(logdir)):  # s3mount-<UTC time>-<pid>.log: the newest last
            if name not in ("workload.log", "workload.log.out", "mount.log"):
                try:
                    text += open(os.path.join(logdir, name), errors="replace").read()
                except OSError:
                    pass
        m = re.findall(r"S3 requests: (.*)", text)
        return m[-1].strip() if m else "n/a (no line)"

    # ----- raw capacity
    def run_raw(self, rnd):
        p = self.p
        nget = p["raw_get"] // RAW_PART
        nparts = p["big"] // RAW_PART
        url = self.presign("get_object", "data/big")
        entries = []
        for i in range(nget):
            off = (i % nparts) * RAW_PART
            entries.append(f'url = "{url}"\nheader = "Range: bytes={off}-{off + RAW_PART - 1}"\n'
                           f'output = "/dev/null"')
        self.raw_one(rnd, "raw-get", entries, nget * RAW_PART, nget)
        body = f"{self.work}/shm/8m"
        with open(body, "wb") as f:
            f.write(os.urandom(RAW_PART))
        nput = p["raw_put"] // RAW_PART
        entries = [f'url = "{self.presign("put_object", f"raw/p-{i}")}"\nupload-file = "{body}"\n'
                   f'output = "/dev/null"' for i in range(nput)]
        self.raw_one(rnd, "raw-put", entries, nput * RAW_PART, nput)
        self.run_raw_mpu(rnd, body)
        self.delete_prefix("raw/")
        # Time to first byte of one GET (curl's time_starttransfer), the same objects.
        lat = []
        for i in range(p["ttfb_samples"]):
            out = subprocess.run(["curl", "-s", "-o", "/dev/null", "-r", "0-0", "-w", "%{time_starttransfer}",
                                  self.presign("get_object", f"ttfb/t-{i}")], capture_output=True, text=True)
            lat.append(float(out.stdout))
        self.samples.append(dict(round=rnd, client="raw", workload="ttfb",
                                 value=round(statistics.median(lat) * 1000, 3), unit="ms"))

    def raw_one(self, rnd, name, entries, nbytes, ops, finish=None):
        """finish: run after curl and counted in the wall time (completing uploads)."""
        logf = f"{self.logs}/r{rnd}-{name}.log"
        row = dict(round=rnd, client="raw", workload=name)
        try:
            mark = self.rgwlog.mark()
            meter = CpuMeter(self.rgw_dir)
            t0 = time.perf_counter()
            _, cpu = self.curl_parallel(entries, logf, self.p["timeout"])
            if finish:
                finish()
            wall = time.perf_counter() - t0
            add_cpu_fields(row, meter, nbytes)
            counts = self.rgwlog.count(mark)
            row.update(value=round(nbytes / MIB / wall, 3), unit="MiB/s", wall_s=round(wall, 3),
                       client_cpu_s=round(cpu, 3), cpu_s_per_gib=round(cpu / (nbytes / GIB), 3),
                       requests=fmt_counts(counts), requests_total=sum(counts.values()))
            log(f"r{rnd}-{name}: {row['value']} MiB/s (curl cpu {row['client_cpu_s']} s, {row['requests']})")
        except Exception as e:  # noqa: BLE001
            row.update(value="fail", reason=str(e))
            self.failures.append(("raw", name, rnd, str(e), logf))
            log(f"r{rnd}-{name}: FAIL {e}")
        self.samples.append(row)

    # ----- the run
    def run(self):
        self.t0 = time.time()
        # The FUSE path alone first, while RGW is idle: after the S3 workloads RGW keeps
        # working for a while, and in the run of 11-25 03:18 the buffered figures then swung
        # 2.8x between rounds (null 1,398-2,663 MiB/s, memfs 720-2,008).
        if self.a.memfs_run:
            self.null_exe = self.build_null()
            for rnd in range(1, self.p["rounds"] + 1):
                self.run_memfs(rnd)
        self.setup_data()
        clients = list(self.a.clients)
        for rnd in range(1, self.p["rounds"] + 1):
            entries = clients + (["raw"] if self.a.raw else [])
            k = (rnd - 1) % len(entries)   # rotate the order by one each round (raw included)
            entries = entries[k:] + entries[:k]
            log(f"round {rnd}/{self.p['rounds']}: {' '.join(entries)}")
            for c in entries:
                if c == "raw":
                    self.run_raw(rnd)
                else:
                    self.run_client(rnd, c)
        if self.a.memory_check:
            self.run_memory_check()
        self.delete_prefix("")
        self.write_report()

    def write_report(self):
        """Also called after a failure or a signal: the tables then hold what was measured."""
        if self.reported or not self.samples:
            return
        self.reported = True
        self.elapsed = time.time() - self.t0
        self.write_samples()
        import compare_report
        compare_report.write(self)

    def write_samples(self):
        keys = ["round", "client", "workload", "value", "unit", "wall_s", "client_cpu_s", "loadgen_cpu_s",
                "cpu_s_per_gib", "loadgen_s_per_gib", "machine_cpu_s", "server_cpu_s", "machine_s_per_gib",
                "server_s_per_gib", "cpu_ms_per_op", "peak_rss_mib", "nprocs", "requests", "requests_total",
                "s3mount_log_requests", "upload_wait_s", "machine_busy_pct", "machine_busy_median_pct", "load1",
                "reason"]
        with open(f"{self.results}/compare-samples.csv", "w", newline="") as f:
            w = csv.DictWriter(f, keys, extrasaction="ignore")
            w.writeheader()
            w.writerows(self.samples)


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "--helper":
        helper(sys.argv[2:])
        return
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="smaller sizes, 1 round (~5 min)")
    ap.add_argument("--rounds", type=int)
    ap.add_argument("--clients", default=",".join(c for c in ALL_CLIENTS
                                                  if c != "s3mount-posix" and c not in CACHE_CLIENTS),
                    help="s3mount-posix (s3mount --posix) and the cache clients run only when named")
    ap.add_argument("--workloads", default=",".join(w for w in ALL_WORKLOADS if w not in CACHE_WORKLOADS),
                    help="the cache workloads run only when named")
    ap.add_argument("--big", help="size of the dd / random-read object (e.g. 1g)")
    ap.add_argument("--ior-block", help="IOR block per task (e.g. 512m)")
    ap.add_argument("--ls-objects", type=int)
    ap.add_argument("--small-files", type=int)
    ap.add_argument("--randread-s", type=int)
    ap.add_argument("--timeout", type=int, help="seconds per workload before it counts as failed")
    ap.add_argument("--no-raw", dest="raw", action="store_false")
    ap.add_argument("--no-memfs", dest="memfs_run", action="store_false")
    ap.add_argument("--no-memory-check", dest="memory_check", action="store_false")
    ap.add_argument("--no-ior", action="store_true", help="use the fio form of the IOR shape")
    ap.add_argument("--s3mount", required=True)
    ap.add_argument("--memfs", required=True)
    ap.add_argument("--work-dir", required=True)
    ap.add_argument("--results", required=True)
    args = ap.parse_args()
    args.clients = [c for c in args.clients.split(",") if c]
    args.workloads = [w for w in args.workloads.split(",") if w]
    for c in args.clients:
        if c not in ALL_CLIENTS:
            ap.error(f"unknown client {c}; one of {ALL_CLIENTS}")
    for w in args.workloads:
        if w not in ALL_WORKLOADS:
            ap.error(f"unknown workload {w}; one of {ALL_WORKLOADS}")
    bench = Bench(args)

    def on_signal(signum, _frame):
        raise SystemExit(f"signal {signum}")
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGHUP, on_signal)
    try:
        bench.run()
    finally:
        bench.cleanup()
        bench.write_report()


if __name__ == "__main__":
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    main()
