#!/usr/bin/env python3
"""Tests of bench/ioparse.py and bench/scale_report.py on outputs captured from real runs on the
Slurm lab (bench/testdata/: IOR 4.0.0 through s3mount against Ceph RGW, fio 3.33, scale.sh's run
folders with each node's network counters), and of the blog's job script as committed.
Run by ctest (bench_ioparse, label unit) from bench/: python3 -m unittest -v ioparse_test
"""
import csv
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import ioparse  # noqa: E402
import scale_report  # noqa: E402

DATA = os.path.join(HERE, "testdata")
MIB = 1 << 20

# The job script as the blog publishes it (its listing starts at the #SBATCH lines; sbatch needs
# the interpreter line first, the one line bench/slurm/blog-ior.sbatch adds).
BLOG_SCRIPT = """#SBATCH --job-name=ior-perf-test
#SBATCH --output=%N_%x_%j_%t.out
#SBATCH --ntasks-per-node=8
#SBATCH --ntasks=8

module load intelmpi
mpirun bash -c "
     ior -r -w -v -F -o=S@S@S -b=2000m -i=1 -t=50m -a=POSIX --posix.odirect"
"""


def slurp(*parts):
    with open(os.path.join(*parts)) as f:
        return f.read()


def read(*parts):
    return slurp(DATA, *parts)


class IorTest(unittest.TestCase):
    def test_blog_runs_header_and_rates_agree(self):
        for name, nodes, tasks, block in (("blog-n1-8tasks-b16m-t4m-rgw.out", 1, 8, 16),
                                          ("blog-n4-32tasks-b16m-t4m-rgw.out", 4, 32, 16),
                                          ("blog-n4-32tasks-b100m-rgw.out", 4, 32, 100)):
            with self.subTest(name):
                rep = ioparse.parse_ior(read("ior-output", name))
                self.assertEqual((rep["nodes"], rep["tasks"], rep["participating_tasks"]), (nodes, tasks, tasks))
                self.assertEqual(rep["clients_per_node"], 8)
                self.assertEqual(rep["blocksize"], block * MIB)
                self.assertEqual(rep["access"], "file-per-process")
                self.assertIn("-o=S@S@S", rep["command"])
                # The aggregate IOR prints (rounded) is tasks x block.
                self.assertAlmostEqual(rep["aggregate_filesize"] / (tasks * block * MIB), 1.0, places=2)
                # Max Write / Max Read, the Results rows and the summary say the same thing.
                for phase in ("write", "read"):
                    row = [r for r in rep["results"] if r["access"] == phase]
                    self.assertEqual(len(row), 1)
                    self.assertEqual(rep["max"][phase], row[0]["bw_mib"])
                    self.assertEqual(rep["max"][phase], rep["summary"][phase]["Max(MiB)"])
                    self.assertEqual(rep["summary"][phase]["#Tasks"], tasks)
                    self.assertGreater(rep["max"][phase], 0)

    def test_known_values(self):
        rep = ioparse.parse_ior(read("ior-output", "blog-n4-32tasks-b100m-rgw.out"))
        self.assertEqual(rep["max"], {"write": 104.01, "read": 517.48})
        self.assertEqual(rep["xfersize"], 50 * MIB)
        self.assertEqual(rep["summary"]["write"]["Mean(s)"], 30.76521)
        self.assertEqual(rep["results"][0]["close_s"], 14.26)

    def test_three_iterations(self):
        rep = ioparse.parse_ior(read("ior-output", "iter3-2tasks-rgw.out"))
        self.assertEqual(rep["repetitions"], 3)
        for phase in ("write", "read"):
            bws = [r["bw_mib"] for r in rep["results"] if r["access"] == phase]
            self.assertEqual(len(bws), 3)
            self.assertEqual([r["iter"] for r in rep["results"] if r["access"] == phase], [0, 1, 2])
            s = rep["summary"][phase]
            self.assertEqual(rep["max"][phase], max(bws))
            self.assertEqual(s["Max(MiB)"], max(bws))
            self.assertEqual(s["Min(MiB)"], min(bws))
            self.assertAlmostEqual(s["Mean(MiB)"], statistics.mean(bws), delta=0.02)
            self.assertAlmostEqual(s["StdDev(MiB)"], statistics.pstdev(bws), delta=0.02)

    def test_failed_run_is_an_error_naming_the_cause(self):
        with self.assertRaises(ioparse.ParseError) as cm:
            ioparse.parse_ior(read("ior-output", "fail-no-dir.out"))
        self.assertIn("No such file or directory", str(cm.exception))

    def test_truncated_output_is_an_error(self):
        text = read("ior-output", "blog-n1-8tasks-b16m-t4m-rgw.out")
        with self.assertRaises(ioparse.ParseError):
            ioparse.parse_ior(text.split("Summary of all tests:")[0])

    def test_result_lines_match_the_ones_ior_sbatch_wrote_before(self):
        # This output's RESULT lines came from ior.sbatch's former awk; the parser must agree.
        text = read("ior-output", "ior-sbatch-2x2-rgw.out")
        old = [line for line in text.splitlines() if line.startswith("RESULT ")]
        self.assertEqual(len(old), 2)
        self.assertEqual(ioparse.ior_result_lines(ioparse.parse_ior(text)), old)

    def test_cli(self):
        path = os.path.join(DATA, "ior-output", "blog-n4-32tasks-b100m-rgw.out")
        out = subprocess.run([sys.executable, os.path.join(HERE, "ioparse.py"), "ior-results", path],
                             capture_output=True, text=True, check=True).stdout.splitlines()
        self.assertEqual(out[0], "RESULT phase=write MiB/s=104.01 tasks=32 nodes=4 tool=ior bytes=3355443200")
        bad = subprocess.run([sys.executable, os.path.join(HERE, "ioparse.py"), "ior",
                              os.path.join(DATA, "ior-output", "fail-no-dir.out")], capture_output=True, text=True)
        self.assertEqual(bad.returncode, 1)
        self.assertIn("ioparse.py: error:", bad.stderr)


class FioTest(unittest.TestCase):
    def test_write_then_read(self):
        rep = ioparse.parse_fio(read("fio-output", "write-read-32m-rgw.out"))
        self.assertEqual([j["op"] for j in rep["jobs"]], ["write", "read"])
        self.assertEqual([g["op"] for g in rep["groups"]], ["write", "read"])
        for j, g in zip(rep["jobs"], rep["groups"]):
            self.assertEqual(j["io_bytes"], 32 * MIB)
            self.assertEqual(g["io_bytes"], 32 * MIB)
            self.assertEqual(j["bw_mib"], g["bw_mib"])  # one job per group
            # fio's BW is its bytes over its runtime, rounded to 3 digits.
            self.assertAlmostEqual(j["bw_mib"], 32 / (j["runtime_ms"] / 1000), delta=0.01 * j["bw_mib"] + 1)

    def test_task_line_for_ior_sbatch(self):
        # ior.sbatch's per-task line; slurm_ior_test.sh reads io= back with numfmt --from=iec-i.
        out = subprocess.run([sys.executable, os.path.join(HERE, "ioparse.py"), "fio-task",
                              os.path.join(DATA, "fio-output", "write-read-32m-rgw.out")],
                             capture_output=True, text=True, check=True).stdout.strip()
        self.assertEqual(out, "BW=327.0MiB/s io=32768KiB")

    def test_not_fio_output(self):
        with self.assertRaises(ioparse.ParseError):
            ioparse.parse_fio(read("fio-output", "ior-sbatch-fio-2x2-rgw.out"))

    def test_sizes(self):
        self.assertEqual(ioparse.size_bytes("32.0MiB"), 32 * MIB)
        self.assertEqual(ioparse.size_bytes("4096KiB"), 4 * MIB)
        self.assertEqual(ioparse.size_bytes("2000m"), 2000 * MIB)
        self.assertEqual(ioparse.size_bytes("33.6MB"), 33_600_000)
        with self.assertRaises(ioparse.ParseError):
            ioparse.size_bytes("lots")


class SbatchTest(unittest.TestCase):
    def test_blog_script_is_the_published_one(self):
        with open(os.path.join(HERE, "slurm", "blog-ior.sbatch")) as f:
            text = f.read()
        first, _, rest = text.partition("\n")
        self.assertEqual(first, "#!/bin/bash")
        self.assertEqual(rest, BLOG_SCRIPT)

    def test_blog_header(self):
        with open(os.path.join(HERE, "slurm", "blog-ior.sbatch")) as f:
            h = ioparse.sbatch_header(f.read())
        self.assertEqual(h, {"job-name": "ior-perf-test", "output": "%N_%x_%j_%t.out",
                             "ntasks-per-node": "8", "ntasks": "8"})

    def test_header_rules(self):
        text = ("#!/bin/sh\n# a comment\n#SBATCH -N 2\n#SBATCH -o out-%j.txt\n#SBATCH --time 00:10:00\n"
                "#SBATCH --partition=lab # trailing comment\n\necho hi\n#SBATCH --ntasks=99\n")
        self.assertEqual(ioparse.sbatch_header(text),
                         {"nodes": "2", "output": "out-%j.txt", "time": "00:10:00", "partition": "lab"})

    def test_output_pattern(self):
        self.assertEqual(ioparse.expand_output_pattern("%N_%x_%j_%t.out", "n1", 12, "ior-perf-test"),
                         "n1_ior-perf-test_12_0.out")
        self.assertEqual(ioparse.expand_output_pattern("%u-%4j-%%.log", "n2", 7, "x", user="alice"),
                         "alice-0007-%.log")
        with self.assertRaises(ioparse.ParseError):
            ioparse.expand_output_pattern("%Z.out", "n1", 1, "x")


class ScaleReportTest(unittest.TestCase):
    RUNS = [os.path.join(DATA, "scale", d) for d in ("n1", "n2", "n4")]

    def test_network_bytes_match_ior_sizes(self):
        # Each node's 8 tasks wrote and read 8 x 100 MiB: its link carried that much each way.
        for d in self.RUNS:
            run = scale_report.read_run(d)
            fair = scale_report.fairness(run)
            self.assertEqual(sorted(fair["write"]["nodes"]), run["node_list"])
            per_node = run["ior"]["clients_per_node"] * run["ior"]["blocksize"] / MIB
            for phase in ("write", "read"):
                for node, (mib, rate) in fair[phase]["nodes"].items():
                    self.assertAlmostEqual(mib / per_node, 1.0, delta=0.05, msg=f"{d} {phase} {node}")
                    self.assertGreater(rate, 0)

    def test_fairness_figures(self):
        t = [0.0, 1.0, 2.0, 3.0, 4.0]
        samples = {"n1": [(x, int(x * 100 * MIB), 0) for x in t],   # 100 MiB/s up for 4 s
                   "n2": [(x, int(x * 50 * MIB), 0) for x in t],    # 50 MiB/s
                   "n3": [(x, 0, 0) for x in t]}                     # in the job, moved nothing
        run = {"net": samples, "node_list": ["n1", "n2"]}
        w = scale_report.fairness(run)["write"]
        self.assertAlmostEqual(w["nodes"]["n1"][1], 100.0)
        self.assertAlmostEqual(w["min_over_max"], 0.5)
        self.assertAlmostEqual(w["jain"], 150 ** 2 / (2 * (100 ** 2 + 50 ** 2)))
        self.assertNotIn("n3", w["nodes"])
        run["node_list"] = ["n1", "n2", "n3"]
        self.assertEqual(scale_report.fairness(run)["write"]["min_over_max"], 0.0)
        self.assertIsNone(scale_report.fairness({"net": samples, "node_list": ["n1"]})["write"]["jain"])

    def test_report_from_captured_runs(self):
        out = tempfile.mkdtemp()
        try:
            rc = scale_report.main(["--out", out, "--lab", "--where", "the lab", "--tasks-per-node", "8",
                                    "--no-figure"] + self.RUNS)
            self.assertEqual(rc, 0)
            table = slurp(out, "table.md")
            reportmd = slurp(out, "report.md")
            rows = list(csv.DictReader(slurp(out, "table.csv").splitlines()))
            self.assertEqual([r["nodes"] for r in rows], ["1", "2", "4"])
            for d, r in zip(self.RUNS, rows):
                rep = scale_report.read_run(d)["ior"]
                self.assertEqual(float(r["write_mibs"]), rep["max"]["write"])
                self.assertAlmostEqual(float(r["read_per_node"]), rep["max"]["read"] / int(r["nodes"]))
                self.assertIn(f"| {r['nodes']} | {r['tasks']} | 8 |", table)
            self.assertIn(table, reportmd)
            self.assertIn("What this machine can and cannot show", reportmd)
            self.assertIn("How the nodes shared the server", reportmd)
            self.assertIn("-b=2000m -> -b=100m", reportmd)
            self.assertNotIn("Check failed", reportmd)
        finally:
            shutil.rmtree(out)

    def test_repeated_runs_give_median_and_range(self):
        tmp = tempfile.mkdtemp()
        try:
            dirs = []
            for i, (w, rd) in enumerate(((100.0, 500.0), (300.0, 200.0), (200.0, 900.0))):
                d = os.path.join(tmp, f"n2-r{i + 1}")
                shutil.copytree(self.RUNS[1], d)
                name = [f for f in os.listdir(d) if f.endswith(".out")][0]
                text = slurp(d, name)
                rep = ioparse.parse_ior(text)
                text = text.replace(f"Max Write: {rep['max']['write']:.2f}", f"Max Write: {w:.2f}")
                text = text.replace(f"Max Read:  {rep['max']['read']:.2f}", f"Max Read:  {rd:.2f}")
                with open(os.path.join(d, name), "w") as f:
                    f.write(text)
                dirs.append(d)
            rows = scale_report.table_rows([scale_report.read_run(d) for d in dirs])
            self.assertEqual(len(rows), 1)
            r = rows[0]
            self.assertEqual((r["runs"], r["write_mibs"], r["write_min"], r["write_max"]), (3, 200.0, 100.0, 300.0))
            self.assertEqual((r["read_mibs"], r["read_min"], r["read_max"]), (500.0, 200.0, 900.0))
            self.assertEqual(r["read_per_node"], 250.0)
            self.assertTrue(r["ok"])
            out = os.path.join(tmp, "out")
            os.mkdir(out)
            self.assertEqual(scale_report.main(["--out", out, "--no-figure"] + dirs), 0)
            self.assertIn("| 3 | 100–300 | 200–900 |", slurp(out, "table.md"))
        finally:
            shutil.rmtree(tmp)

    def test_report_flags_a_wrong_task_count(self):
        tmp = tempfile.mkdtemp()
        try:
            d = os.path.join(tmp, "n2")
            shutil.copytree(self.RUNS[1], d)
            name = [f for f in os.listdir(d) if f.endswith(".out")][0]
            text = slurp(d, name).replace("tasks               : 16", "tasks               : 1")
            with open(os.path.join(d, name), "w") as f:
                f.write(text)
            self.assertEqual(scale_report.main(["--out", tmp, "--no-figure", d]), 0)
            self.assertIn("**Check failed**", slurp(tmp, "report.md"))
            self.assertNotIn("were not measured", slurp(tmp, "report.md"))
            os.remove(os.path.join(d, "net.tsv"))  # a cluster run: no network samples
            self.assertEqual(scale_report.main(["--out", tmp, "--no-figure", d]), 0)
            self.assertIn("Per-node shares were not measured", slurp(tmp, "report.md"))
        finally:
            shutil.rmtree(tmp)


if __name__ == "__main__":
    unittest.main()
