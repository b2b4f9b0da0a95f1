"""Metrics through a real mount: --prometheus-port scraped with HTTP while files are read
and written against moto_server, the values checked against the requests those reads and
writes need; the start-up error for a port in use; --log-metrics."""
import errno
import os
import re
import socket
import tempfile
import time
import unittest
import urllib.error
import urllib.request

from harness import (SOURCE_DIR, Mount, MountTestCase, data, free_port, read_bytes,
                     run_s3mount)

MiB = 1 << 20
SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$')
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def parse(text):
    """{(name, frozenset of label pairs): value}; checks each line is valid exposition."""
    samples, typed = {}, set()
    for line in text.splitlines():
        if line.startswith("# HELP "):
            continue
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ")
            assert kind in ("counter", "gauge", "histogram"), line
            typed.add(name)
            continue
        m = SAMPLE.match(line)
        assert m, f"not a sample line: {line!r}"
        name, labels, value = m.group(1), m.group(3) or "", m.group(4)
        assert name.startswith("s3mount_"), line
        base = re.sub(r"_(bucket|sum|count)$", "", name)
        assert name in typed or base in typed, f"no # TYPE before {line!r}"
        key = (name, frozenset(LABEL.findall(labels)))
        assert key not in samples, f"duplicate series {line!r}"
        samples[key] = float(value)
    return samples


class Scrape:
    def __init__(self, port):
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as r:
            self.content_type = r.headers["Content-Type"]
            self.text = r.read().decode()
        self.samples = parse(self.text)

    def get(self, name, **labels):
        return self.samples.get((name, frozenset(labels.items())), 0.0)

    def s3(self, op, status="2xx"):
        return self.get("s3mount_s3_requests_total", operation=op, status=status)

    def fuse(self, op):
        return self.get("s3mount_fuse_requests_total", op=op)


class PrometheusTest(MountTestCase):
    def mount(self, bucket, extra=()):
        self.port = free_port()
        return Mount(self.moto, bucket,
                     ["--prometheus-port", str(self.port), "--allow-delete"] + list(extra))

    def scrape(self):
        return Scrape(self.port)

    def test_format_and_series_names(self):
        bucket = self.new_bucket()
        self.moto.put(bucket, "f", b"f")
        with self.mount(bucket) as m:
            s = self.scrape()
            self.assertEqual(s.content_type, "text/plain; version=0.0.4; charset=utf-8")
            # The start-up probe is one LIST.
            self.assertGreaterEqual(s.s3("ListObjectsV2"), 1)
            self.assertIn(("s3mount_memory_budget_limit_bytes", frozenset()), s.samples)
            # Every histogram's _count is its +Inf bucket.
            for (name, labels), v in s.samples.items():
                if name.endswith("_count"):
                    inf = s.samples[(name[:-6] + "_bucket", labels | {("le", "+Inf")})]
                    self.assertEqual(v, inf, name)
            with self.assertRaises(urllib.error.HTTPError) as e:
                urllib.request.urlopen(f"http://127.0.0.1:{self.port}/other", timeout=10)
            self.assertEqual(e.exception.code, 404)
            # The dashboard and the example alerts name only series the daemon serves
            # (an error first, so that the errno family has a series).
            with self.assertRaises(OSError):
                os.link(m.path("f"), m.path("x"))
            families = set(re.findall(r"^# TYPE (\S+) ", self.scrape().text, re.M))
            for name in ("grafana-dashboard.json", "prometheus.yml"):
                with open(os.path.join(SOURCE_DIR, "deploy", "prometheus", name)) as f:
                    used = {re.sub(r"_(bucket|sum|count)$", "", n)
                            for n in re.findall(r"s3mount_[a-z0-9_]+", f.read())}
                self.assertTrue(used)
                # The cache series exist only with a cache: test_cache.py checks those.
                used = {n for n in used if not re.match(r"s3mount_(shared_)?cache_", n)}
                self.assertEqual(used - families, set(), name)

    def test_read_counts_the_gets_it_needs(self):
        bucket = self.new_bucket()
        small, big = data(100 * 1024, 1), data(20 * MiB, 2)
        self.moto.put(bucket, "small.bin", small)
        self.moto.put(bucket, "big.bin", big)
        with self.mount(bucket, ["--read-part-size", str(8 * MiB)]) as m:
            before = self.scrape()
            # A file under the first request (1 MiB + 128 KiB) is one GET.
            self.assertEqual(read_bytes(m.path("small.bin")), small)
            # A request is counted as its completion returns, just after the data went to the
            # reader: wait for the count, then check it is exact.
            self.eventually(lambda: self.scrape().s3("GetObject") > before.s3("GetObject"))
            after_small = self.scrape()
            self.assertEqual(after_small.s3("GetObject") - before.s3("GetObject"), 1)
            got = (after_small.get("s3mount_s3_received_bytes_total", operation="GetObject") -
                   before.get("s3mount_s3_received_bytes_total", operation="GetObject"))
            self.assertEqual(got, len(small))
            self.assertGreater(after_small.fuse("read"), before.fuse("read"))
            self.assertGreater(after_small.fuse("open"), before.fuse("open"))

            # During a read: the stream's GETs so far, and its prefetch window.
            with open(m.path("big.bin"), "rb") as f:
                self.assertEqual(f.read(2 * MiB), big[:2 * MiB])
                during = self.scrape()
                self.assertGreater(during.s3("GetObject"), after_small.s3("GetObject"))
                self.assertGreaterEqual(during.get("s3mount_prefetch_window_bytes"), 8 * MiB)
                self.assertGreater(during.get("s3mount_memory_budget_used_bytes"), 0)
                self.assertEqual(f.read(), big[2 * MiB:])
            self.eventually(lambda: self.scrape().s3("GetObject") - after_small.s3("GetObject") >= 4)
            done = self.scrape()
            gets = done.s3("GetObject") - after_small.s3("GetObject")
            # The first request, then one GET per 8 MiB part at most: 1.125 MiB, to 8 MiB,
            # to 16 MiB, to 20 MiB; a re-read of a dropped range could add one.
            self.assertGreaterEqual(gets, 4)
            self.assertLessEqual(gets, 6)
            got = (done.get("s3mount_s3_received_bytes_total", operation="GetObject") -
                   after_small.get("s3mount_s3_received_bytes_total", operation="GetObject"))
            self.assertGreaterEqual(got, len(big))
            lat = done.get("s3mount_s3_request_duration_seconds_count", operation="GetObject")
            self.assertEqual(lat, done.s3("GetObject"))  # one latency per request
            # A closed file prefetches nothing (release reaches the daemon after close).
            self.assertTrue(self.eventually(
                lambda: self.scrape().get("s3mount_prefetch_window_bytes") == 0))

    def test_write_counts_puts_and_bytes_out(self):
        bucket = self.new_bucket()
        body = data(3 * MiB + 5, 3)
        with self.mount(bucket) as m:
            before = self.scrape()
            path = m.path("new.bin")
            with open(path, "wb") as f:
                f.write(body[:MiB])
                f.flush()
                during = self.scrape()
                # Under one part: nothing is sent until close, but the part buffer is held.
                self.assertGreater(during.fuse("write"), before.fuse("write"))
                self.assertEqual(during.s3("PutObject"), before.s3("PutObject"))
                self.assertGreater(during.get("s3mount_memory_budget_used_bytes"), 0)
                f.write(body[MiB:])
            after = self.scrape()
            self.assertEqual(self.moto.get(bucket, "new.bin"), body)
            self.assertEqual(after.s3("PutObject") - before.s3("PutObject"), 1)
            sent = (after.get("s3mount_s3_sent_bytes_total", operation="PutObject") -
                    before.get("s3mount_s3_sent_bytes_total", operation="PutObject"))
            self.assertGreaterEqual(sent, len(body))
            # The reply to the flush goes out just before the upload's count drops.
            self.assertTrue(self.eventually(
                lambda: self.scrape().get("s3mount_uploads_in_flight") == 0))
            self.assertGreater(after.fuse("create"), before.fuse("create"))
            self.assertGreater(after.get("s3mount_fuse_request_duration_seconds_count", op="write"),
                               before.get("s3mount_fuse_request_duration_seconds_count", op="write"))

            # A multipart upload: 8 MiB parts, so 17 MiB is three parts.
            big = data(17 * MiB, 4)
            with open(m.path("big.bin"), "wb") as f:
                f.write(big)
            mp = self.scrape()
            self.assertEqual(mp.s3("CreateMultipartUpload") - after.s3("CreateMultipartUpload"), 1)
            self.assertEqual(mp.s3("UploadPart") - after.s3("UploadPart"), 3)
            self.assertEqual(
                mp.s3("CompleteMultipartUpload") - after.s3("CompleteMultipartUpload"), 1)
            sent = (mp.get("s3mount_s3_sent_bytes_total", operation="UploadPart") -
                    after.get("s3mount_s3_sent_bytes_total", operation="UploadPart"))
            self.assertGreaterEqual(sent, len(big))

    def test_errors_by_status_class_and_errno(self):
        bucket = self.new_bucket()
        self.moto.put(bucket, "gone.bin", b"x" * 1000)
        self.moto.put(bucket, "f", b"y")
        with self.mount(bucket) as m:
            before = self.scrape()
            with self.assertRaises(OSError) as e:
                os.link(m.path("f"), m.path("g"))
            self.assertEqual(e.exception.errno, errno.EPERM)
            # Deleted behind the mount's back between open and read: the GET gets a 4xx.
            with open(m.path("gone.bin"), "rb") as f:
                self.moto.s3.delete_object(Bucket=bucket, Key="gone.bin")
                with self.assertRaises(OSError):
                    f.read()
            after = self.scrape()
            self.assertEqual(after.get("s3mount_fuse_errors_total", errno="EPERM") -
                             before.get("s3mount_fuse_errors_total", errno="EPERM"), 1)
            self.assertGreaterEqual(after.s3("GetObject", "4xx") - before.s3("GetObject", "4xx"), 1)
            self.assertGreaterEqual(
                after.get("s3mount_s3_failures_total", operation="GetObject") -
                before.get("s3mount_s3_failures_total", operation="GetObject"), 1)
            errors = sum(v for (n, _), v in after.samples.items() if n == "s3mount_fuse_errors_total")
            self.assertGreaterEqual(errors, 2)

    def test_port_in_use_is_a_one_line_start_up_error(self):
        bucket = self.new_bucket()
        with socket.socket() as busy:
            busy.bind(("127.0.0.1", 0))
            busy.listen()
            port = busy.getsockname()[1]
            d = self.make_dir()
            r = run_s3mount(["--endpoint-url", self.moto.endpoint, "--prometheus-port", str(port),
                             bucket, d])
        self.assertNotEqual(r.returncode, 0)
        self.assertEqual(r.stderr.strip().count("\n"), 0, r.stderr)
        self.assertIn(f"--prometheus-port {port}", r.stderr)
        self.assertIn("Address already in use", r.stderr)
        with open("/proc/self/mountinfo") as f:
            self.assertNotIn(d, f.read())

    def test_bad_port_and_address_without_port(self):
        d = self.make_dir()
        r = run_s3mount(["--prometheus-port", "70000", "bucket", d])
        self.assertEqual(r.returncode, 2)
        self.assertIn("--prometheus-port", r.stderr)
        r = run_s3mount(["--prometheus-address", "0.0.0.0", "bucket", d])
        self.assertEqual(r.returncode, 2)
        self.assertIn("--prometheus-address needs --prometheus-port", r.stderr)

    # Helpers
    def make_dir(self):
        d = tempfile.mkdtemp(prefix="s3mount-test-")
        self.addCleanup(os.rmdir, d)
        return d

    def eventually(self, check, timeout=10):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if check():
                return True
            time.sleep(0.05)
        return False


class LogMetricsTest(MountTestCase):
    def test_log_metrics_writes_changed_counters(self):
        bucket = self.new_bucket()
        self.moto.put(bucket, "f.bin", b"z" * 5000)
        m = Mount(self.moto, bucket, ["--log-metrics"])
        with m:
            self.assertEqual(read_bytes(m.path("f.bin")), b"z" * 5000)
            m.unmount()
            log = m.log_text()
        gets = re.findall(
            r'metrics: s3mount_s3_requests_total\{operation="GetObject",status="2xx"\} (\d+)', log)
        self.assertTrue(gets, log[-2000:])
        self.assertEqual(int(gets[-1]), 1)
        # Only what changed: the GET count is logged once (it changed once), and series
        # that stayed 0 never are.
        self.assertEqual(len(gets), 1, gets)
        self.assertNotIn('status="5xx"', log)


if __name__ == "__main__":
    unittest.main()
