"""Caching through a real mount against moto_server: the kernel's page cache kept from one
open to the next while the ETag is unchanged (and dropped when it changed elsewhere), and
the --cache directory: reused across a remount, bounded, damaged blocks fetched again, a full
disk harmless; the --cache-xz bucket shared by two mounts (two nodes). GETs are counted with
the mount's own metrics (--prometheus-port)."""
import hashlib
import os
import re
import subprocess
import tempfile
import threading
import time
import urllib.request

from harness import (SOURCE_DIR, Mount, MountTestCase, data, free_port, read_bytes,
                     run_s3mount)
from test_metrics import Scrape

MiB = 1 << 20


def tree_bytes(path):
    """Bytes the files under `path` take on disk (st_blocks), as du counts them."""
    total = 0
    for root, _, files in os.walk(path):
        for name in files:
            try:
                total += os.lstat(os.path.join(root, name)).st_blocks * 512
            except FileNotFoundError:
                pass
    return total


class CacheTestCase(MountTestCase):
    def mount(self, bucket, extra=()):
        self.port = free_port()
        return Mount(self.moto, bucket, ["--prometheus-port", str(self.port)] + list(extra))

    def gets(self):
        return Scrape(self.port).s3("GetObject")

    def settled_gets(self):
        """The GET count once it stops moving (a request is counted as it completes)."""
        last = self.gets()
        while True:
            time.sleep(0.3)
            now = self.gets()
            if now == last:
                return now
            last = now

    def metric(self, name):
        return Scrape(self.port).get(name)


class PageCacheTest(CacheTestCase):
    def test_second_read_of_an_unchanged_file_costs_no_get(self):
        bucket = self.new_bucket()
        body = data(3 * MiB, seed=11)
        self.moto.put(bucket, "f.bin", body)
        with self.mount(bucket, ["--metadata-ttl", "60"]) as m:
            self.assertEqual(read_bytes(m.path("f.bin")), body)
            first = self.settled_gets()
            self.assertGreaterEqual(first, 1)
            self.assertEqual(read_bytes(m.path("f.bin")), body)
            self.assertEqual(read_bytes(m.path("f.bin")), body)
            self.assertEqual(self.settled_gets(), first)

    def test_an_object_changed_elsewhere_is_never_read_from_old_pages(self):
        bucket = self.new_bucket()
        old, new = data(2 * MiB, seed=12), data(2 * MiB, seed=13)  # same size
        self.moto.put(bucket, "f.bin", old)
        with self.mount(bucket, ["--metadata-ttl", "1"]) as m:
            self.assertEqual(read_bytes(m.path("f.bin")), old)
            before = self.settled_gets()
            self.moto.put(bucket, "f.bin", new)
            time.sleep(1.5)  # past the TTL: the next open learns the new ETag
            self.assertEqual(read_bytes(m.path("f.bin")), new)
            self.assertGreater(self.settled_gets(), before)

    def test_a_file_changed_through_the_mount_shows_its_new_bytes(self):
        bucket = self.new_bucket()
        self.moto.put(bucket, "f.txt", b"first line\n")
        with self.mount(bucket, ["--metadata-ttl", "60", "--allow-overwrite"]) as m:
            self.assertEqual(read_bytes(m.path("f.txt")), b"first line\n")
            with open(m.path("f.txt"), "ab") as f:
                f.write(b"second\n")
            self.assertEqual(read_bytes(m.path("f.txt")), b"first line\nsecond\n")
            with open(m.path("f.txt"), "r+b") as f:
                f.write(b"FIRST")
            self.assertEqual(read_bytes(m.path("f.txt")), b"FIRST line\nsecond\n")
        self.assertEqual(self.moto.get(bucket, "f.txt"), b"FIRST line\nsecond\n")


class DataCacheTest(CacheTestCase):
    def setUp(self):
        self.cache = tempfile.mkdtemp(prefix="s3mount-cache-")

    def tearDown(self):
        subprocess.run(["umount", self.cache], capture_output=True)
        subprocess.run(["rm", "-rf", self.cache])

    def files(self):
        """The cache's files: one per object version (and its lock)."""
        out = []
        for root, _, files in os.walk(os.path.join(self.cache, "s3mount-cache")):
            out += [os.path.join(root, f) for f in files if f != "lock"]
        return out

    def test_blocks_are_reused_after_a_remount(self):
        bucket = self.new_bucket()
        body = data(5 * MiB + 1234, seed=21)
        self.moto.put(bucket, "f.bin", body)
        with self.mount(bucket, ["--cache", self.cache]) as m:
            self.assertEqual(read_bytes(m.path("f.bin")), body)
            self.assertGreaterEqual(self.settled_gets(), 1)
            # Every byte fetched once: with a cache the stream's first GET is whole blocks
            # (2 MiB), so the parts after it are block-aligned and no block is fetched twice.
            self.assertEqual(Scrape(self.port).get("s3mount_s3_received_bytes_total",
                                                   operation="GetObject"), len(body))
        # One file for the object: six 1 MiB slots, the last one short, each with a page of
        # trailer.
        self.assertEqual(len(self.files()), 1)
        self.assertEqual(tree_bytes(os.path.join(self.cache, "s3mount-cache")),
                         5 * MiB + 4096 + 6 * 4096)
        # A new mount has no page cache: every byte comes from the cache directory.
        with self.mount(bucket, ["--cache", self.cache]) as m:
            self.assertEqual(read_bytes(m.path("f.bin")), body)
            self.assertEqual(self.settled_gets(), 0)
            # Each block at least once.
            self.assertGreaterEqual(self.metric("s3mount_cache_hits_total"), 6)
            self.assertGreaterEqual(self.metric("s3mount_cache_hit_bytes_total"), len(body))

    def test_many_readers_share_the_cache(self):
        bucket = self.new_bucket()
        body = data(4 * MiB, seed=22)
        self.moto.put(bucket, "f.bin", body)
        with self.mount(bucket, ["--cache", self.cache]) as m:
            results = []

            def reader(i):
                with open(m.path("f.bin"), "rb", buffering=0) as f:
                    f.seek(i * 100_000)
                    results.append(f.read(2 * MiB) == body[i * 100_000:i * 100_000 + 2 * MiB])

            threads = [threading.Thread(target=reader, args=(i,)) for i in range(6)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            self.assertEqual(results, [True] * 6)
        with self.mount(bucket, ["--cache", self.cache]) as m:
            self.assertEqual(read_bytes(m.path("f.bin")), body)

    def test_a_damaged_block_is_fetched_again(self):
        bucket = self.new_bucket()
        body = data(2 * MiB, seed=23)
        self.moto.put(bucket, "f.bin", body)
        with self.mount(bucket, ["--cache", self.cache]) as m:
            self.assertEqual(read_bytes(m.path("f.bin")), body)
        files = self.files()
        self.assertEqual(len(files), 1)
        with open(files[0], "r+b") as f:  # in block 0
            f.seek(1000)
            byte = f.read(1)
            f.seek(1000)
            f.write(bytes([byte[0] ^ 0xFF]))
        with self.mount(bucket, ["--cache", self.cache]) as m:
            self.assertEqual(read_bytes(m.path("f.bin")), body)
            self.assertGreaterEqual(self.settled_gets(), 1)  # the damaged block, again
            self.assertEqual(self.metric("s3mount_cache_errors_total"), 1)
        with self.mount(bucket, ["--cache", self.cache]) as m:  # and it was kept again
            self.assertEqual(read_bytes(m.path("f.bin")), body)
            self.assertEqual(self.settled_gets(), 0)

    def test_a_new_etag_never_gets_old_blocks(self):
        bucket = self.new_bucket()
        old, new = data(MiB, seed=24), data(MiB, seed=25)
        self.moto.put(bucket, "f.bin", old)
        with self.mount(bucket, ["--cache", self.cache]) as m:
            self.assertEqual(read_bytes(m.path("f.bin")), old)
        self.moto.put(bucket, "f.bin", new)
        with self.mount(bucket, ["--cache", self.cache]) as m:
            self.assertEqual(read_bytes(m.path("f.bin")), new)
            self.assertEqual(self.settled_gets(), 1)

    def test_max_cache_size_bounds_the_directory(self):
        bucket = self.new_bucket()
        body, other = data(8 * MiB, seed=26), data(8 * MiB, seed=28)
        self.moto.put(bucket, "f.bin", body)
        self.moto.put(bucket, "g.bin", other)
        with self.mount(bucket, ["--cache", self.cache, "--max-cache-size", "3"]) as m:
            # Room for two blocks. Parts written at once compete for it (the first to
            # reserve keeps it); the second file's blocks evict the first's.
            self.assertEqual(read_bytes(m.path("f.bin")), body)
            self.settled_gets()
            self.assertEqual(read_bytes(m.path("g.bin")), other)
            self.settled_gets()
            self.assertGreater(self.metric("s3mount_cache_evictions_total"), 0)
            self.assertLessEqual(tree_bytes(os.path.join(self.cache, "s3mount-cache")),
                                 3 * MiB + MiB)
            self.assertLessEqual(self.metric("s3mount_cache_used_bytes"), 3 * MiB)

    def test_a_full_disk_is_a_miss_not_an_error(self):
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", self.cache], check=True)
        bucket = self.new_bucket()
        body = data(6 * MiB, seed=27)
        self.moto.put(bucket, "f.bin", body)
        # --max-cache-size larger than the disk: writes fail with ENOSPC, reads go on.
        with self.mount(bucket, ["--cache", self.cache, "--max-cache-size", "64"]) as m:
            self.assertEqual(read_bytes(m.path("f.bin")), body)
            self.settled_gets()
            self.assertGreater(self.metric("s3mount_cache_errors_total"), 0)
        with self.mount(bucket, ["--cache", self.cache, "--max-cache-size", "64"]) as m:
            self.assertEqual(read_bytes(m.path("f.bin")), body)

    def test_a_cache_on_a_file_system_that_cannot_punch_holes_is_refused(self):
        # ramfs has no FALLOC_FL_PUNCH_HOLE: evicted blocks could never be freed.
        subprocess.run(["mount", "-t", "ramfs", "ramfs", self.cache], check=True)
        bucket = self.new_bucket()
        target = tempfile.mkdtemp(prefix="s3mount-test-")
        r = run_s3mount(["--endpoint-url", self.moto.endpoint, "--cache", self.cache,
                         "--staging-dir", tempfile.gettempdir(), bucket, target])
        os.rmdir(target)  # still a plain directory: nothing was mounted on it
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("cannot free parts of files", r.stderr)
        self.assertEqual(len(r.stderr.strip().splitlines()), 1, r.stderr)

    def test_one_mount_per_cache_directory(self):
        bucket = self.new_bucket()
        with self.mount(bucket, ["--cache", self.cache]):
            target = tempfile.mkdtemp(prefix="s3mount-test-")
            r = run_s3mount(["--endpoint-url", self.moto.endpoint, "--cache", self.cache,
                             bucket, target])
            os.rmdir(target)  # still a plain directory: nothing was mounted on it
            self.assertNotEqual(r.returncode, 0)
            self.assertIn("in use by another s3mount", r.stderr)
            self.assertEqual(len(r.stderr.strip().splitlines()), 1, r.stderr)


def shared_prefix(bucket):
    """The --cache-xz key prefix, computed here from the documented layout."""
    return hashlib.sha256(b"S3MBLK01" + (1 << 20).to_bytes(8, "big") + bucket.encode()).hexdigest()


class SharedCacheTest(MountTestCase):
    """--cache-xz: two mounts of one bucket (two nodes of a cluster) share a cache bucket."""

    def node(self, bucket, cache_bucket, extra=()):
        port = free_port()
        m = Mount(self.moto, bucket, ["--prometheus-port", str(port), "--cache-xz", cache_bucket]
                  + list(extra))
        m.port = port
        return m

    def settled(self, m, name, **labels):
        """A series once it stops moving (a request is counted as it completes)."""
        last = Scrape(m.port).get(name, **labels)
        while True:
            time.sleep(0.3)
            now = Scrape(m.port).get(name, **labels)
            if now == last:
                return now
            last = now

    def gets(self, m):
        """GETs of the mounted bucket (the cache bucket's are not in this series)."""
        return self.settled(m, "s3mount_s3_requests_total", operation="GetObject", status="2xx")

    def wait_for_key(self, bucket, key, timeout=10):
        deadline = time.time() + timeout
        while not self.moto.exists(bucket, key):
            self.assertLess(time.time(), deadline, f"{key} never reached the cache bucket")
            time.sleep(0.1)

    def block_key(self, bucket, key):
        etag = self.moto.s3.head_object(Bucket=bucket, Key=key)["ETag"]
        obj = hashlib.sha256((key + etag).encode()).hexdigest()
        return f"{shared_prefix(bucket)}/{obj}/0000000000"

    def test_the_dashboard_names_only_cache_series_a_cached_mount_serves(self):
        bucket, cache = self.new_bucket(), self.new_bucket()
        directory = tempfile.mkdtemp(prefix="s3mount-cache-")
        try:
            with self.node(bucket, cache, ["--cache", directory]) as m:
                text = urllib.request.urlopen(f"http://127.0.0.1:{m.port}/metrics",
                                              timeout=10).read().decode()
                families = set(re.findall(r"^# TYPE (\S+) ", text, re.M))
            with open(os.path.join(SOURCE_DIR, "deploy", "prometheus",
                                   "grafana-dashboard.json")) as f:
                used = {n for n in re.findall(r"s3mount_[a-z0-9_]+", f.read())
                        if re.match(r"s3mount_(shared_)?cache_", n)}
            self.assertGreaterEqual(len(used), 6)
            self.assertEqual(used - families, set())
        finally:
            subprocess.run(["rm", "-rf", directory])

    def test_a_second_node_reads_a_small_file_without_the_data_bucket(self):
        bucket, cache = self.new_bucket(), self.new_bucket()
        small = data(300_000, seed=31)
        self.moto.put(bucket, "dir/small.bin", small)
        block = self.block_key(bucket, "dir/small.bin")
        with self.node(bucket, cache) as one:
            self.assertEqual(read_bytes(one.path("dir", "small.bin")), small)
            self.assertGreaterEqual(self.gets(one), 1)
            self.wait_for_key(cache, block)
            # Mountpoint's layout: PREFIX/sha256(key + ETag)/INDEX, and the start-up object.
            self.assertEqual(self.moto.keys(cache),
                             sorted([block, shared_prefix(bucket) + "/_s3mount_cache_metadata"]))
            self.assertEqual(len(self.moto.get(cache, block)), len(small) + 100)  # + trailer
            with self.node(bucket, cache) as two:
                self.assertEqual(read_bytes(two.path("dir", "small.bin")), small)
                self.assertEqual(self.gets(two), 0)
                self.assertGreaterEqual(self.settled(two, "s3mount_shared_cache_hits_total"), 1)
                self.assertGreaterEqual(
                    self.settled(two, "s3mount_shared_cache_hit_bytes_total"), len(small))

    def test_large_files_are_not_shared(self):
        bucket, cache = self.new_bucket(), self.new_bucket()
        big = data(3 * MiB, seed=32)
        self.moto.put(bucket, "big.bin", big)
        with self.node(bucket, cache) as one:
            self.assertEqual(read_bytes(one.path("big.bin")), big)
            self.gets(one)
        self.assertEqual(self.moto.keys(cache), [shared_prefix(bucket) + "/_s3mount_cache_metadata"])
        with self.node(bucket, cache) as two:
            self.assertEqual(read_bytes(two.path("big.bin")), big)
            self.assertGreaterEqual(self.gets(two), 1)
            # Its sequential reads asked past 1 MiB: the cache bucket was not even asked.
            self.assertEqual(self.settled(two, "s3mount_shared_cache_misses_total"), 0)

    def test_a_tampered_block_is_never_served(self):
        bucket, cache = self.new_bucket(), self.new_bucket()
        small = data(50_000, seed=33)
        self.moto.put(bucket, "s.bin", small)
        block = self.block_key(bucket, "s.bin")
        with self.node(bucket, cache) as one:
            self.assertEqual(read_bytes(one.path("s.bin")), small)
            self.wait_for_key(cache, block)
        stored = bytearray(self.moto.get(cache, block))
        stored[1000] ^= 0xFF
        self.moto.put(cache, block, bytes(stored))
        with self.node(bucket, cache) as two:
            self.assertEqual(read_bytes(two.path("s.bin")), small)
            self.assertEqual(self.gets(two), 1)
            self.assertEqual(self.settled(two, "s3mount_shared_cache_errors_total"), 1)
        self.assertEqual(self.moto.get(cache, block)[:len(small)], small)  # put right again

    def test_with_cache_the_local_directory_is_asked_first(self):
        bucket, cache = self.new_bucket(), self.new_bucket()
        local = tempfile.mkdtemp(prefix="s3mount-cache-")
        self.addCleanup(subprocess.run, ["rm", "-rf", local])
        small = data(200_000, seed=34)
        self.moto.put(bucket, "s.bin", small)
        block = self.block_key(bucket, "s.bin")
        with self.node(bucket, cache) as one:
            self.assertEqual(read_bytes(one.path("s.bin")), small)
            self.wait_for_key(cache, block)
        # A shared hit fills the local cache ...
        with self.node(bucket, cache, ["--cache", local]) as two:
            self.assertEqual(read_bytes(two.path("s.bin")), small)
            self.assertEqual(self.gets(two), 0)
            self.assertEqual(self.settled(two, "s3mount_shared_cache_hits_total"), 1)
        # ... which the next mount reads without asking the cache bucket.
        with self.node(bucket, cache, ["--cache", local]) as three:
            self.assertEqual(read_bytes(three.path("s.bin")), small)
            self.assertEqual(self.gets(three), 0)
            self.assertGreaterEqual(self.settled(three, "s3mount_cache_hits_total"), 1)
            self.assertEqual(self.settled(three, "s3mount_shared_cache_hits_total"), 0)
            self.assertEqual(self.settled(three, "s3mount_shared_cache_misses_total"), 0)
