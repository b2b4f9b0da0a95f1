"""Unit tests of the benchmark report's CPU accounting (compare_report.py): the CPU ceiling
and the section that shows where the machine's CPU goes. Run: python3 -m unittest
compare_report_test (from bench/), or through ctest (bench_report)."""
import unittest

import compare_report


def sample(client, workload, **fields):
    row = dict(round=1, client=client, workload=workload, value=100, unit="MiB/s")
    row.update(fields)
    return row


class CpuCeilingTest(unittest.TestCase):
    def test_ceiling_is_server_plus_curl_over_server_plus_daemon(self):
        med = compare_report.medians([
            sample("raw", "raw-get", server_s_per_gib=1.0, cpu_s_per_gib=0.4),
            sample("s3mount", "ior-read", server_s_per_gib=1.2, cpu_s_per_gib=0.8),
        ])
        self.assertAlmostEqual(compare_report.cpu_ceiling(med, "ior-read", "raw-get"), 1.4 / 2.0)

    def test_ceiling_takes_the_medians_over_rounds(self):
        rows = [sample("raw", "raw-put", server_s_per_gib=s, cpu_s_per_gib=0.5) for s in (3.5, 4.0, 9.0)]
        rows += [sample("s3mount", "ior-write", server_s_per_gib=s, cpu_s_per_gib=1.0) for s in (4.0, 5.0, 8.0)]
        med = compare_report.medians(rows)
        self.assertAlmostEqual(compare_report.cpu_ceiling(med, "ior-write", "raw-put"), 4.5 / 6.0)

    def test_no_ceiling_without_the_server_figures(self):
        med = compare_report.medians([
            sample("raw", "raw-get", cpu_s_per_gib=0.4),
            sample("s3mount", "ior-read", server_s_per_gib=1.2, cpu_s_per_gib=0.8),
        ])
        self.assertIsNone(compare_report.cpu_ceiling(med, "ior-read", "raw-get"))
        self.assertIsNone(compare_report.cpu_ceiling(med, "dd", "raw-get"))


class MachineCpuSectionTest(unittest.TestCase):
    def test_rows_and_ceiling_of_each_streaming_workload(self):
        med = compare_report.medians([
            sample("raw", "raw-get", server_s_per_gib=1.0, cpu_s_per_gib=0.4, machine_s_per_gib=1.5, value=1000),
            sample("s3mount", "ior-read", server_s_per_gib=1.2, cpu_s_per_gib=0.8, loadgen_s_per_gib=0.2,
                   machine_s_per_gib=2.3, value=650),
        ])
        text = compare_report.machine_cpu_section(med, ["raw", "s3mount"], ["ior-read", "ls"])
        self.assertIn("| ior-read | server (RGW, OSD, monitor) | 1.00 | 1.20 |", text)
        self.assertIn("| ior-read | client (daemon; raw: curl) | 0.40 | 0.80 |", text)
        # curl is raw's load generator: no separate figure for it
        self.assertIn("| ior-read | load generator (IOR ranks and mpirun, dd) | – | 0.20 |", text)
        self.assertIn("ior-read 0.70x (measured 0.65x)", text)
        self.assertNotIn("| ls |", text)

    def test_empty_without_server_figures(self):
        med = compare_report.medians([sample("s3mount", "ior-read", cpu_s_per_gib=0.8)])
        self.assertEqual(compare_report.machine_cpu_section(med, ["raw", "s3mount"], ["ior-read"]), "")


if __name__ == "__main__":
    unittest.main()
