"""compare_cache.py: the data-cache workloads of compare.py (issue 18), as a mixin of its Bench.
Each runs on any client; the cache clients (s3mount-cache: s3mount --cache; s3fs-cache: s3fs
-o use_cache; rclone-full: --vfs-cache-mode full) start each workload with an empty cache.

- reread: `cat data/big` twice in one mount. The row is the second read (s); the first read
  and the S3 requests of the second read alone are rows reread-first and reread-requests.
- randread2: 4 KiB random reads of data/big, O_DIRECT, the same RANDREAD_IOS offsets
  (fio's fixed seed) once, then again ten times. The row is the median of the ten second
  passes (ops/s); the first pass is randread2-first.
- seqcache: data/big read once to fill the cache (row seqcache-fill, MiB/s), then unmounted,
  the page cache dropped, mounted again with the cache kept, and read again with dd (the row,
  MiB/s): a sequential read served by the cache (against S3 for clients without one).
"""
import json
import os
import shutil
import statistics

from compare_util import MIB, drop_page_cache, run_measured

CACHE_WORKLOADS = ["reread", "randread2", "seqcache"]
CACHE_CLIENTS = ["s3mount-cache", "s3fs-cache", "rclone-full"]
CACHE_INFO = {  # name -> (label, unit, better, raw counterpart), as compare_report.WORKLOAD_INFO
    "reread-first": ("first `cat` of data/big", "s", "low", None),
    "reread": ("second `cat` of data/big in the same mount", "s", "low", None),
    "reread-requests": ("S3 requests of the second `cat`", "requests", "low", None),
    "randread2-first": ("4 KiB random reads, O_DIRECT, first pass", "ops/s", "high", None),
    "randread2": ("4 KiB random reads, O_DIRECT, second pass over the same offsets", "ops/s", "high",
                  None),
    "seqcache-fill": ("dd bs=1M of data/big, filling the cache", "MiB/s", "high", None),
    "seqcache": ("dd bs=1M of data/big after a remount, the cache kept", "MiB/s", "high", None),
}
RANDREAD_IOS = 2000
# A second pass is 2,000 hits, 40-80 ms: one is mostly noise, the median of ten is not.
SECOND_PASSES = 10


class CacheRuns:
    def cache_dir(self, client):
        return f"{self.work}/cache-{client}"

    def cache_mount_args(self, client, keep):
        """Extra mount arguments of a cache client, its cache emptied unless `keep`."""
        if client not in CACHE_CLIENTS:
            return []
        d = self.cache_dir(client)
        if not keep:
            shutil.rmtree(d, ignore_errors=True)
        os.makedirs(d, exist_ok=True)
        if client == "s3mount-cache":
            return ["--cache", d]
        if client == "s3fs-cache":
            return ["-o", f"use_cache={d}"]
        return ["--cache-dir", d]  # rclone-full: replaces the default cache dir

    def cache_workload(self, client, wl, mnt, logf, logdir):
        """Runs one cache workload; returns what Bench.workload returns."""
        p, t = self.p, self.p["timeout"]
        big = f"{mnt}/data/big"
        self.cache_rows = []
        if wl == "reread":
            cat = ["sh", "-c", f"cat {big} > /dev/null"]
            first, _, _ = run_measured(cat, logf, t)
            mark = self.rgwlog.mark()
            wall, cpu, _ = run_measured(cat, logf, t)
            counts = self.rgwlog.count(mark)
            self.cache_rows = [("reread-first", first, "s"),
                               ("reread-requests", sum(counts.values()), "requests")]
            return wall, "s", p["big"], 0, wall, cpu
        if wl == "randread2":
            cmd = ["fio", "--name=rr", f"--filename={big}", "--rw=randread", "--bs=4k", "--direct=1",
                   "--ioengine=psync", f"--number_ios={RANDREAD_IOS}", "--randrepeat=1",
                   "--readonly", "--invalidate=0", "--output-format=json"]
            rates = []
            for _ in range(1 + SECOND_PASSES):
                wall, cpu, out = run_measured(cmd, logf, t)
                rates.append(json.loads(out[out.index("{"):])["jobs"][0]["read"]["iops"])
            self.cache_rows = [("randread2-first", rates[0], "ops/s")]
            return statistics.median(rates[1:]), "ops/s", RANDREAD_IOS * 4096, RANDREAD_IOS, wall, cpu
        if wl == "seqcache":
            dd = ["dd", f"if={big}", "of=/dev/null", "bs=1M"]
            fill, _, _ = run_measured(dd, logf, t)
            self.unmount(mnt)
            drop_page_cache()
            # The same path; the daemon's CPU and memory columns are of the first mount only.
            mnt2, _ = self.mount(client, logdir, keep_cache=True)
            wall, cpu, _ = run_measured(["dd", f"if={mnt2}/data/big", "of=/dev/null", "bs=1M"],
                                        logf, t)
            self.cache_rows = [("seqcache-fill", p["big"] / MIB / fill, "MiB/s")]
            return p["big"] / MIB / wall, "MiB/s", p["big"], 0, wall, cpu
        raise ValueError(wl)

    def cache_extra_rows(self, row):
        rows, self.cache_rows = getattr(self, "cache_rows", None) or [], None
        if row.get("value") == "fail":
            return []
        return [dict(round=row["round"], client=row["client"], workload=name, value=round(v, 3),
                     unit=unit) for name, v, unit in rows]
