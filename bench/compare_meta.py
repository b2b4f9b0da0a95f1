"""compare_meta.py: the metadata workloads of compare.py (issue 18), as a mixin of its Bench.

- mdtest: /opt/ior/bin/mdtest, 2 MPI tasks x 100 files of 4 KiB, file only, a directory per
  task (`-F -u -w 4096 -e 4096`). The row's value is the create rate; the stat, read and remove
  rates follow as rows mdtest-stat, mdtest-read and mdtest-remove of the same mount (the S3
  requests are counted once, on the mdtest row).
- smallfiles-ttl: 1,000 files of 256 KiB (uploaded at set-up), listed (`ls -l`), then, past
  s3mount's 1 s metadata TTL, `cat dir/*` timed: the small-file loop after the TTL.
"""
import os
import re
import time

from compare_util import Failure, log, run_measured

META_WORKLOADS = ["mdtest", "smallfiles-ttl"]
META_INFO = {  # name -> (label, unit, better, raw counterpart), as compare_report.WORKLOAD_INFO
    "mdtest": ("mdtest -F -u, 2 tasks x 100 files of 4 KiB: create", "ops/s", "high", None),
    "smallfiles-ttl": ("cat dir/* of 1,000 files of 256 KiB, after the metadata TTL", "s", "low", None),
}
MDTEST = "/opt/ior/bin/mdtest"
MDTEST_TASKS = 2
MDTEST_FILES = 100      # per task
MDTEST_BYTES = 4096     # written and read per file
MDTEST_PHASES = {"creation": "create", "stat": "stat", "read": "read", "removal": "remove"}
TTL_FILES = 1000
TTL_SIZE = 256 * 1024
TTL_WAIT_S = 1.5        # past s3mount's default --metadata-ttl (1 s)


class MetaRuns:
    def setup_meta(self):
        """The smallfiles-ttl directory, uploaded with curl in parallel (not through a mount)."""
        if "smallfiles-ttl" not in self.a.workloads:
            return
        body = f"{self.work}/shm/ttl-body"
        with open(body, "wb") as f:
            f.write(os.urandom(TTL_SIZE))
        entries = [f'url = "{self.presign("put_object", f"ttl/f-{i:05d}")}"\nupload-file = "{body}"\n'
                   f'output = "/dev/null"' for i in range(TTL_FILES)]
        t0 = time.time()
        self.curl_parallel(entries, f"{self.logs}/setup-ttl.log", 600)
        os.unlink(body)
        log(f"uploaded {TTL_FILES} objects for smallfiles-ttl in {time.time() - t0:.1f} s")

    def meta_workload(self, client, wl, mnt, logf, env):
        """Runs one metadata workload; returns what Bench.workload returns."""
        t = self.p["timeout"]
        if wl == "smallfiles-ttl":
            d = f"{mnt}/ttl"
            run_measured(["ls", "-l", d], logf, t)
            time.sleep(TTL_WAIT_S)
            wall, cpu, _ = run_measured(["sh", "-c", f"cat {d}/* > /dev/null"], logf, t)
            return wall, "s", TTL_FILES * TTL_SIZE, TTL_FILES, wall, cpu
        if wl == "mdtest":
            if not os.path.exists(MDTEST):
                raise Failure(f"{MDTEST} not found (build IOR/mdtest into /opt/ior)")
            d = f"{mnt}/mdtest-{client}"
            os.makedirs(d, exist_ok=True)
            cmd = ["mpirun", "--allow-run-as-root", "--oversubscribe", "-np", str(MDTEST_TASKS), MDTEST,
                   "-F", "-u", "-n", str(MDTEST_FILES), "-w", str(MDTEST_BYTES), "-e", str(MDTEST_BYTES),
                   "-d", d]
            wall, cpu, out = run_measured(cmd, logf, t, env)
            rates = {}
            for phase, name in MDTEST_PHASES.items():
                # "   File creation   max   min   mean   stddev" (SUMMARY rate; older mdtest: a colon)
                m = re.search(rf"^\s*File {phase}\s*:?\s*([\d.]+)\s+([\d.]+)\s+([\d.]+)", out, re.M)
                if not m:
                    raise Failure(f"mdtest printed no 'File {phase}' rate")
                rates[name] = float(m.group(3))
            self.meta_rates = rates
            n = MDTEST_TASKS * MDTEST_FILES
            return rates["create"], "ops/s", n * MDTEST_BYTES * 2, n * 4, wall, cpu
        raise ValueError(wl)

    def meta_extra_rows(self, row):
        """The mdtest phases after create, as rows of their own."""
        rates, self.meta_rates = getattr(self, "meta_rates", None), None
        if row.get("workload") != "mdtest" or not rates or row.get("value") == "fail":
            return []
        return [dict(round=row["round"], client=row["client"], workload=f"mdtest-{name}",
                     value=round(rates[name], 3), unit="ops/s") for name in ("stat", "read", "remove")]

    def after_meta(self, client, wl):
        if wl == "mdtest":
            self.delete_prefix(f"mdtest-{client}/")
