"""The metadata policy through a real mount against moto_server, counting S3 requests on the
metrics endpoint (--prometheus-port): a walk of a listed directory after the metadata TTL costs
bulk LISTs, not a request per name; known files are revalidated by HEAD; a second listing within
the TTL costs nothing; what the mount itself created, renamed or deleted it knows without asking."""
import errno
import os
import time
import unittest

from harness import Mount, MountTestCase, free_port
from test_metrics import Scrape

WALK_FILES = 150     # a small count: the refresh pages 1,000 names, so one LIST covers them
TTL_S = 1.0          # s3mount's default --metadata-ttl
LONG_TTL = "60"      # for the tests whose steps must all fall within one TTL


class MetaTest(MountTestCase):
    def mount(self, bucket, extra=()):
        self.port = free_port()
        return Mount(self.moto, bucket, ["--prometheus-port", str(self.port)] + list(extra))

    def counts(self):
        # A request is counted as its completion returns, just after the reply: let it land.
        time.sleep(0.2)
        s = Scrape(self.port)
        return {op: s.s3(op) for op in ("ListObjectsV2", "HeadObject", "GetObject", "PutObject",
                                        "DeleteObject", "CopyObject")}

    def delta(self, before, after):
        return {op: after[op] - before[op] for op in before if after[op] != before[op]}

    def test_walk_of_a_listed_directory_after_the_ttl_costs_bulk_lists(self):
        bucket = self.new_bucket()
        for i in range(WALK_FILES):
            self.moto.put(bucket, f"w/f{i:04d}", b"x" * (i % 7))
        with self.mount(bucket) as m:
            names = sorted(os.listdir(m.path("w")))
            self.assertEqual(len(names), WALK_FILES)
            time.sleep(TTL_S * 1.5)
            before = self.counts()
            t0 = time.monotonic()
            for i, n in enumerate(names):
                self.assertEqual(os.stat(m.path("w", n)).st_size, int(n[1:]) % 7)
            took = time.monotonic() - t0
            d = self.delta(before, self.counts())
            # One LIST for "w" itself (expired too) and one bulk refresh; a walk slower than the
            # TTL (a loaded machine) pays both again each TTL. Not a request per name.
            self.assertLessEqual(d.get("ListObjectsV2", 0), 2 + 2 * (1 + int(took / TTL_S)), d)
            self.assertLess(d.get("ListObjectsV2", 0), WALK_FILES // 10, d)
            self.assertGreaterEqual(d.get("ListObjectsV2", 0), 1, d)
            self.assertEqual(d.get("HeadObject", 0), 0, d)

    def test_known_files_are_revalidated_by_head(self):
        bucket = self.new_bucket()
        for i in range(5):
            self.moto.put(bucket, f"h/f{i}", b"abc")
        with self.mount(bucket) as m:
            inos = [os.stat(m.path("h", f"f{i}")).st_ino for i in range(5)]
            self.moto.put(bucket, "h/f0", b"changed elsewhere")
            time.sleep(TTL_S * 1.5)
            before = self.counts()
            st = [os.stat(m.path("h", f"f{i}")) for i in range(5)]
            d = self.delta(before, self.counts())
            self.assertEqual(d.get("HeadObject", 0), 5, d)
            self.assertLessEqual(d.get("ListObjectsV2", 0), 1, d)  # the directory "h"
            self.assertEqual(st[0].st_size, len(b"changed elsewhere"))
            self.assertEqual([s.st_ino for s in st[1:]], inos[1:])  # unchanged: same inodes

    def test_listing_twice_within_the_ttl_costs_one_listing(self):
        bucket = self.new_bucket()
        for k in ("l/a", "l/b", "l/sub/c"):
            self.moto.put(bucket, k, b"1")
        with self.mount(bucket, ["--metadata-ttl", LONG_TTL, "--negative-metadata-ttl", LONG_TTL]) as m:
            first = sorted(os.listdir(m.path("l")))
            before = self.counts()
            self.assertEqual(sorted(os.listdir(m.path("l"))), first)
            with self.assertRaises(FileNotFoundError):
                os.stat(m.path("l", "missing"))
            self.assertEqual(self.delta(before, self.counts()), {})

    def test_own_creates_renames_and_deletes_are_known_without_a_request(self):
        bucket = self.new_bucket()
        with self.mount(bucket, ["--allow-delete", "--metadata-ttl", LONG_TTL,
                                 "--negative-metadata-ttl", LONG_TTL]) as m:
            os.mkdir(m.path("own"))
            before = self.counts()
            with open(m.path("own", "f"), "wb") as f:
                f.write(b"hello")
            self.assertEqual(os.stat(m.path("own", "f")).st_size, 5)
            self.assertEqual(sorted(os.listdir(m.path("own"))), ["f"])
            self.assertEqual(self.delta(before, self.counts()), {"PutObject": 1})

            before = self.counts()
            os.rename(m.path("own", "f"), m.path("own", "g"))
            renamed = self.counts()
            # The rename's own requests (docs/SEMANTICS.md), then nothing to learn its result.
            self.assertEqual(self.delta(before, renamed),
                             {"HeadObject": 1, "CopyObject": 1, "DeleteObject": 1})
            self.assertFalse(os.path.exists(m.path("own", "f")))
            self.assertEqual(os.stat(m.path("own", "g")).st_size, 5)
            self.assertEqual(sorted(os.listdir(m.path("own"))), ["g"])
            self.assertEqual(self.delta(renamed, self.counts()), {})

            before = self.counts()
            os.unlink(m.path("own", "g"))
            with self.assertRaises(OSError) as e:
                os.stat(m.path("own", "g"))
            self.assertEqual(e.exception.errno, errno.ENOENT)
            self.assertEqual(os.listdir(m.path("own")), [])
            self.assertEqual(self.delta(before, self.counts()), {"DeleteObject": 1})

            before = self.counts()
            os.rmdir(m.path("own"))
            self.assertFalse(os.path.exists(m.path("own")))
            self.assertEqual(set(self.delta(before, self.counts())), {"ListObjectsV2", "DeleteObject"})


if __name__ == "__main__":
    unittest.main()
