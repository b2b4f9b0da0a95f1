"""Reading through a real mount: listings, directories, names, byte-exact reads,
concurrency and consistency with changes made elsewhere."""
import concurrent.futures
import ctypes
import errno
import mmap
import os
import random
import re
import time
import unittest

from harness import Mount, MountTestCase, data, read_bytes


def read_text(path):
    with open(path) as f:
        return f.read().strip()


class ListingTest(MountTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.bucket = cls.moto.bucket()
        s3 = cls.moto.s3
        for i in range(1100):
            s3.put_object(Bucket=cls.bucket, Key=f"big/f{i:04d}", Body=b"x" * (i % 7))
        for key in ["a/b/c/deep.txt", "a/top.txt", "implicit/only/child", "marker/",
                    "shadow", "shadow/inner", "bad//empty", "bad/./dot", "bad/../up",
                    "bad/ok", "space name/f g"]:
            s3.put_object(Bucket=cls.bucket, Key=key, Body=key.encode())

    def test_listing_1100_entries_is_sorted_complete_and_costs_lists_only(self):
        with Mount(self.moto, self.bucket, ["--metadata-ttl", "60"]) as m:
            names = os.listdir(m.path("big"))
            self.assertEqual(sorted(names), [f"f{i:04d}" for i in range(1100)])
            # ls -l: attributes come from the listing (readdirplus), no HEAD per file.
            out = os.popen(f"ls -l {m.path('big')}").read().splitlines()
            self.assertEqual(len(out), 1101)  # "total" + 1,100 entries
            for i in (0, 5, 1099):
                self.assertEqual(os.stat(m.path("big", f"f{i:04d}")).st_size, i % 7)
            m.unmount()
            counts = dict(re.findall(r"(\w+)=(\d+)", m.log_text().split("S3 requests:")[-1]))
            self.assertNotIn("HeadObject", counts)
            # Two pages for the directory (twice: os.listdir and ls -l), plus the lookups of
            # the directory itself and the start-up probe.
            self.assertLessEqual(int(counts["ListObjectsV2"]), 8, counts)

    def test_nested_implicit_directories_and_markers(self):
        with Mount(self.moto, self.bucket) as m:
            self.assertTrue(os.path.isdir(m.path("a")))
            self.assertTrue(os.path.isdir(m.path("a", "b", "c")))
            self.assertEqual(read_bytes(m.path("a/b/c/deep.txt")), b"a/b/c/deep.txt")
            self.assertEqual(sorted(os.listdir(m.path("a"))), ["b", "top.txt"])
            self.assertTrue(os.path.isdir(m.path("implicit/only")))
            self.assertTrue(os.path.isdir(m.path("marker")))  # a key ending in '/'
            self.assertEqual(os.listdir(m.path("marker")), [])
            self.assertEqual(read_bytes(m.path("space name/f g")), b"space name/f g")
            st = os.stat(m.path("a"))
            self.assertEqual(oct(st.st_mode & 0o777), "0o755")
            self.assertEqual(st.st_uid, os.getuid())

    def test_directory_shadows_file_and_invalid_names_are_hidden(self):
        with Mount(self.moto, self.bucket) as m:
            self.assertTrue(os.path.isdir(m.path("shadow")))
            self.assertEqual(os.listdir(m.path("shadow")), ["inner"])
            root = os.listdir(m.dir)
            self.assertEqual(root.count("shadow"), 1)
            self.assertEqual(sorted(os.listdir(m.path("bad"))), ["ok"])
            with self.assertRaises(FileNotFoundError):
                os.stat(m.path("bad", "empty"))

    def test_dot_entries_present(self):
        with Mount(self.moto, self.bucket) as m:
            out = os.popen(f"ls -a {m.path('a')}").read().split()
            self.assertEqual(out[:2], [".", ".."])


def request_counts(mount):
    """S3 requests per operation, from the line the daemon logs at unmount."""
    return {k: int(v) for k, v in
            re.findall(r"(\w+)=(\d+)", mount.log_text().split("S3 requests:")[-1])}


class RequestEconomyTest(MountTestCase):
    def test_open_and_read_a_small_file_costs_one_list_and_one_get(self):
        bucket = self.new_bucket()
        self.moto.put(bucket, "dir/small.bin", b"s" * 5000)
        m = Mount(self.moto, bucket)
        with m:
            self.assertEqual(read_bytes(m.path("dir/small.bin")), b"s" * 5000)
            m.unmount()
            counts = request_counts(m)
        # The lookups of "dir" and "small.bin" (one LIST each, which also gives the ETag
        # for open) and one GET. (The start-up probe is counted apart.)
        self.assertEqual(counts, {"ListObjectsV2": 2, "GetObject": 1}, counts)


    def test_reading_an_open_file_costs_no_list_per_metadata_ttl(self):
        # The kernel must not re-ask for the attributes before reads (auto_inval_data):
        # with it, every read once the TTL had passed cost a LIST (a long read, one per
        # second). With the TTL at zero that is one per read() here, 32 of them.
        bucket = self.new_bucket()
        blob = data(2 << 20, seed=12)
        self.moto.put(bucket, "long.bin", blob)
        m = Mount(self.moto, bucket, ["--metadata-ttl", "minimal"])
        with m:
            fd = os.open(m.path("long.bin"), os.O_RDONLY)
            try:
                got = bytearray()
                while chunk := os.read(fd, 64 << 10):
                    got += chunk
            finally:
                os.close(fd)
            self.assertEqual(bytes(got), blob)
            m.unmount()
            counts = request_counts(m)
        # None per read: with the TTL at zero, the lookup's LIST, the kernel's getattr after
        # it (a HEAD: the file is known), and open's HEAD for a fresh ETag. The kernel's check
        # for growth at the end of the file is answered by the open file's own version. (With
        # auto_inval_data on: 35 LISTs; with that check going to S3: 3.)
        self.assertLessEqual(counts.get("ListObjectsV2", 0), 2, counts)
        self.assertLessEqual(counts.get("HeadObject", 0), 2, counts)
        self.assertLessEqual(counts.get("ListObjectsV2", 0) + counts.get("HeadObject", 0), 3, counts)


def read_direct(path):
    """The whole file, read with O_DIRECT in 1 MiB reads."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECT)
    buf = mmap.mmap(-1, 1 << 20)  # page-aligned, as O_DIRECT wants
    got = bytearray()
    while (n := os.readv(fd, [buf])) > 0:
        got += buf[:n]
    os.close(fd)
    return bytes(got)


class ReadTest(MountTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.bucket = cls.moto.bucket()
        cls.blob = data(9 * 1024 * 1024 + 12345, seed=7)
        cls.moto.put(cls.bucket, "blob", cls.blob)
        cls.small = data(1000, seed=8)
        cls.moto.put(cls.bucket, "small", cls.small)
        cls.moto.put(cls.bucket, "empty", b"")

    def test_sequential_buffered_read_is_byte_exact(self):
        with Mount(self.moto, self.bucket) as m:
            with open(m.path("blob"), "rb") as f:
                self.assertEqual(f.read(), self.blob)
            self.assertEqual(read_bytes(m.path("small")), self.small)
            self.assertEqual(read_bytes(m.path("empty")), b"")

    def test_o_direct_read_is_byte_exact(self):
        with Mount(self.moto, self.bucket) as m:
            self.assertEqual(read_direct(m.path("blob")), self.blob)

    def test_random_preads_are_byte_exact(self):
        rng = random.Random(3)
        with Mount(self.moto, self.bucket) as m:
            fd = os.open(m.path("blob"), os.O_RDONLY)
            for _ in range(60):
                off = rng.randrange(0, len(self.blob))
                size = rng.choice([1, 4096, 65536, 300000])
                self.assertEqual(os.pread(fd, size, off), self.blob[off:off + size])
            self.assertEqual(os.pread(fd, 10, len(self.blob)), b"")  # at EOF
            self.assertEqual(os.pread(fd, 10, len(self.blob) - 3), self.blob[-3:])
            os.close(fd)

    def test_mmap_read_is_byte_exact(self):
        with Mount(self.moto, self.bucket) as m:
            with open(m.path("blob"), "rb") as f:
                with mmap.mmap(f.fileno(), 0, prot=mmap.PROT_READ) as mm:
                    self.assertEqual(len(mm), len(self.blob))
                    self.assertEqual(mm[:4096], self.blob[:4096])
                    self.assertEqual(mm[-5000:], self.blob[-5000:])
                    self.assertEqual(bytes(mm), self.blob)

    @unittest.skipUnless(os.geteuid() == 0, "the BDI readahead is set only as root")
    def test_buffered_reads_reach_the_daemon_as_1_mib_requests(self):
        # The kernel lowers the mount's readahead when it takes the INIT reply and copies it
        # into each file at open, so s3mount raises it after INIT and before it reports the
        # mount ready; with the 128 KiB default a buffered reader costs 8x the round trips.
        m = Mount(self.moto, self.bucket, ["-d"])
        with m:
            device = None
            with open("/proc/self/mountinfo") as f:
                for line in f:
                    fields = line.split()
                    if fields[4] == m.dir:
                        device = fields[2]
            self.assertIsNotNone(device)
            self.assertEqual(read_text(f"/sys/class/bdi/{device}/read_ahead_kb"), "4096")
            with open(m.path("blob"), "rb") as f:
                self.assertEqual(f.read(), self.blob)
            m.unmount()
            sizes = [int(s) for s in re.findall(r"read ino=\d+ fh=\d+ off=\d+ size=(\d+)", m.log_text())]
        self.assertTrue(sizes)
        self.assertGreaterEqual(max(sizes), 1 << 20)
        # 9 MiB in 1 MiB requests, plus the kernel's first small synchronous read(s).
        self.assertLessEqual(len(sizes), 16, sizes)

    def test_read_buffers_go_back_to_the_system_when_idle(self):
        # Part buffers stay cached while streams use them and are unmapped after 10-15 s
        # without use, so an idle mount does not keep the memory of its last job.
        def rss_kib(pid):
            with open(f"/proc/{pid}/status") as f:
                return int(re.search(r"VmRSS:\s+(\d+) kB", f.read()).group(1))
        with Mount(self.moto, self.bucket) as m:
            with open(m.path("blob"), "rb") as f:
                self.assertEqual(f.read(), self.blob)
            after_read = rss_kib(m.pid)
            deadline = time.monotonic() + 40
            while time.monotonic() < deadline and rss_kib(m.pid) > after_read - 6 * 1024:
                time.sleep(0.5)
            # The ~9 MiB of part buffers the read filled are gone (RSS in KiB).
            self.assertLessEqual(rss_kib(m.pid), after_read - 6 * 1024)
            with open(m.path("blob"), "rb") as f:  # and the mount reads on as before
                self.assertEqual(f.read(), self.blob)

    def test_eight_concurrent_readers(self):
        with Mount(self.moto, self.bucket) as m:
            def read_all(i):
                with open(m.path("blob"), "rb") as f:
                    f.seek(i * 4096)
                    return f.read()
            with concurrent.futures.ThreadPoolExecutor(8) as pool:
                results = list(pool.map(read_all, range(8)))
            for i, r in enumerate(results):
                self.assertEqual(r, self.blob[i * 4096:])

    def test_fuse_worker_threads_outlive_their_requests(self):
        # libfuse keeps idle workers only when the loop gets its config through the 3.12 API;
        # built against the older one, each request started a thread and ended another.
        def threads(pid):
            return set(os.listdir(f"/proc/{pid}/task"))

        with Mount(self.moto, self.bucket) as m:
            self.assertEqual(read_direct(m.path("blob")), self.blob)  # workers started
            before = threads(m.pid)
            for _ in range(3):  # 30 read requests
                self.assertEqual(read_direct(m.path("blob")), self.blob)
            gone = before - threads(m.pid)
            self.assertEqual(gone, set(), f"threads ended between requests: {sorted(gone)}")


_libc = ctypes.CDLL("libc.so.6", use_errno=True)
_libc.mmap.restype = ctypes.c_void_p
_libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int, ctypes.c_int,
                       ctypes.c_long]
_libc.munmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t]
_libc.mincore.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_void_p]


def resident_mib(fd, size):
    """MiB of the file's pages in the page cache, seen through a mapping of the same open file
    (a first open empties the cache). Mapping it does not read it."""
    addr = _libc.mmap(None, size, mmap.PROT_READ, mmap.MAP_SHARED, fd, 0)
    if addr in (None, ctypes.c_void_p(-1).value):
        raise OSError(ctypes.get_errno(), "mmap")
    try:
        vec = (ctypes.c_ubyte * ((size + 4095) // 4096))()
        if _libc.mincore(addr, size, vec) != 0:
            raise OSError(ctypes.get_errno(), "mincore")
        return sum(v & 1 for v in vec) * 4096 / (1 << 20)
    finally:
        _libc.munmap(addr, size)


class DropBehindTest(MountTestCase):
    """Long buffered reads leave only their last pages cached; readers that map the file keep
    theirs. 80 MiB: more than the 32 MiB lag plus one 32 MiB batch, and more than the 16 MiB
    --keep-pages-up-to the tests set (files up to that size keep all their pages)."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.bucket = cls.moto.bucket()
        cls.blob = data(80 << 20, seed=11)
        cls.moto.put(cls.bucket, "long", cls.blob)

    def read_then_count(self, options=(), until_at_most=None):
        """Reads the object through one open file; returns the MiB of it still cached, after
        waiting up to 5 s for that to fall to `until_at_most` (the drops run on the daemon's
        own thread), or 0.5 s if None."""
        with Mount(self.moto, self.bucket, list(options) or ["--keep-pages-up-to", "16"]) as m:
            fd = os.open(m.path("long"), os.O_RDONLY)
            try:
                got = bytearray()
                while chunk := os.read(fd, 1 << 20):
                    got += chunk
                self.assertEqual(bytes(got), self.blob)
                deadline = time.monotonic() + (5 if until_at_most is not None else 0.5)
                while True:
                    mib = resident_mib(fd, len(self.blob))
                    if (until_at_most is not None and mib <= until_at_most) or \
                            time.monotonic() > deadline:
                        return mib
                    time.sleep(0.1)
            finally:
                os.close(fd)

    def test_a_long_buffered_read_keeps_only_its_tail_cached(self):
        # [0, 32 MiB) went once the reader passed 64 MiB; the rest is within lag + batch.
        self.assertLessEqual(self.read_then_count(until_at_most=52), 52)
        # --keep-read-pages: all 80 MiB stay; so they do when the file is within
        # --keep-pages-up-to.
        self.assertGreaterEqual(self.read_then_count(["--keep-read-pages"]), 79)
        self.assertGreaterEqual(self.read_then_count(["--keep-pages-up-to", "100"]), 79)

    def test_a_reader_that_maps_the_file_keeps_every_page(self):
        with Mount(self.moto, self.bucket, ["--keep-pages-up-to", "16"]) as m:
            fd = os.open(m.path("long"), os.O_RDONLY)
            try:
                with mmap.mmap(fd, len(self.blob), prot=mmap.PROT_READ) as mp:
                    # One page at a time, front to back, like a program walking its data
                    # (in a trial, one copy of the whole mapping never looked sequential
                    # to the daemon, so it would not test the check).
                    for off in range(0, len(self.blob), 4096):
                        self.assertEqual(mp[off], self.blob[off])
                    time.sleep(0.5)
                    self.assertGreaterEqual(resident_mib(fd, len(self.blob)), 79)
                    self.assertEqual(mp[:], self.blob)
            finally:
                os.close(fd)


class ConsistencyTest(MountTestCase):
    def test_objects_created_and_deleted_elsewhere_appear_and_disappear(self):
        bucket = self.new_bucket()
        with Mount(self.moto, bucket) as m:
            self.assertFalse(os.path.exists(m.path("later.txt")))
            self.moto.put(bucket, "later.txt", b"hello")
            self.moto.put(bucket, "newdir/x", b"x")
            time.sleep(1.2)  # the default metadata TTL is 1 s
            self.assertEqual(read_bytes(m.path("later.txt")), b"hello")
            self.assertIn("newdir", os.listdir(m.dir))
            self.moto.s3.delete_object(Bucket=bucket, Key="later.txt")
            time.sleep(1.2)
            self.assertFalse(os.path.exists(m.path("later.txt")))
            self.assertNotIn("later.txt", os.listdir(m.dir))

    def test_changed_object_fails_old_handle_and_new_open_sees_it(self):
        bucket = self.new_bucket()
        v1 = data(6 * 1024 * 1024, seed=11)
        self.moto.put(bucket, "obj", v1)
        # 1 MiB parts: the prefetch window stays far from the 5 MiB read below.
        with Mount(self.moto, bucket, ["--metadata-ttl", "minimal",
                                       "--read-part-size", "1048576"]) as m:
            fd = os.open(m.path("obj"), os.O_RDONLY | os.O_DIRECT)
            buf = mmap.mmap(-1, 4096)
            os.preadv(fd, [buf], 0)
            self.assertEqual(buf[:4096], v1[:4096])
            v2 = data(6 * 1024 * 1024, seed=12)
            self.moto.put(bucket, "obj", v2)
            # Far from what was prefetched: a new GET with If-Match, which must fail.
            try:
                with self.assertRaises(OSError) as ctx:
                    os.preadv(fd, [buf], 5 * 1024 * 1024)
                self.assertIn(ctx.exception.errno, (errno.ESTALE, errno.EIO))
            finally:
                os.close(fd)
            with open(m.path("obj"), "rb") as f:
                self.assertEqual(f.read(), v2)


    def assert_only(self, fd, offset, size, version):
        """Reads through `fd`: the bytes of `version` there, or ESTALE; never another's."""
        try:
            got = os.pread(fd, size, offset)
        except OSError as e:
            self.assertEqual(e.errno, errno.ESTALE)
            return
        self.assertEqual(got, version[offset:offset + size])

    def test_a_file_open_on_an_old_version_never_reads_the_new_one(self):
        # The kernel keeps one page cache per inode: the new version gets an inode of its
        # own, or a file still open on the old one read pages another open had cached.
        bucket = self.new_bucket()
        v1, v2 = data(2 << 20, seed=21), data(2 << 20, seed=22)
        for ttl in ("minimal", "60"):
            with self.subTest(ttl=ttl):
                self.moto.put(bucket, "obj", v1)
                with Mount(self.moto, bucket, ["--metadata-ttl", ttl]) as m:
                    a = os.open(m.path("obj"), os.O_RDONLY)
                    try:
                        self.assertEqual(os.pread(a, 4096, 0), v1[:4096])
                        self.moto.put(bucket, "obj", v2)
                        if ttl == "60":
                            # Within the TTL a new open still sees the old ETag, and its
                            # read fails; opening again then asks S3.
                            b = os.open(m.path("obj"), os.O_RDONLY)
                            try:
                                self.assert_only(b, 1 << 20, 4096, v1)
                            finally:
                                os.close(b)
                        with open(m.path("obj"), "rb") as f:
                            self.assertEqual(f.read(), v2)
                            self.assertNotEqual(os.fstat(f.fileno()).st_ino, os.fstat(a).st_ino)
                        for off in (0, 1 << 20, (2 << 20) - 4096):
                            self.assert_only(a, off, 4096, v1)
                    finally:
                        os.close(a)

    def test_overwriting_a_file_open_for_reading_leaves_the_reader_its_version(self):
        bucket = self.new_bucket()
        v1, v2 = data(2 << 20, seed=23), data(1 << 20, seed=24)
        self.moto.put(bucket, "obj", v1)
        with Mount(self.moto, bucket, ["--allow-overwrite"]) as m:
            a = os.open(m.path("obj"), os.O_RDONLY)
            try:
                self.assertEqual(os.pread(a, 4096, 0), v1[:4096])
                with open(m.path("obj"), "wb") as f:  # O_TRUNC: the kernel retries on ESTALE
                    f.write(v2)
                self.assertEqual(self.moto.get(bucket, "obj"), v2)
                self.assertEqual(read_bytes(m.path("obj")), v2)
                for off in (0, 1 << 20, (2 << 20) - 4096):
                    self.assert_only(a, off, 4096, v1)
                self.assertEqual(os.fstat(a).st_size, len(v1))
            finally:
                os.close(a)

if __name__ == "__main__":
    unittest.main()
