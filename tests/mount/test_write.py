"""Writing through a real mount, checked with an independent S3 client (boto3): new
files of several sizes, overwrite rules, delete, directories, read-only, the errno of each
unsupported operation, and unmounting with an upload in flight."""
import errno
import mmap
import os
import signal
import subprocess
import threading
import unittest

from harness import Mount, MountTestCase, data, daemon_pid, read_bytes, wait_gone, is_mounted


def write_file(path, payload, chunk=1 << 20):
    with open(path, "wb") as f:
        for i in range(0, len(payload), chunk):
            f.write(payload[i:i + chunk])


class WriteTest(MountTestCase):
    def test_new_files_of_several_sizes_reach_s3_intact(self):
        bucket = self.new_bucket()
        sizes = {"zero": 0, "one": 1, "five_mib": 5 << 20, "thirty_mib": 30 << 20}
        with Mount(self.moto, bucket) as m:
            for name, size in sizes.items():
                payload = data(size, seed=size)
                write_file(m.path(name), payload)
                # close() returned: the object is complete in S3.
                self.assertEqual(self.moto.get(bucket, name), payload, name)
                self.assertEqual(os.stat(m.path(name)).st_size, size)
                self.assertEqual(read_bytes(m.path(name)), payload, name)

    def test_touch_and_shell_redirect(self):
        bucket = self.new_bucket()
        with Mount(self.moto, bucket) as m:
            subprocess.run(["touch", m.path("touched")], check=True)
            subprocess.run(f"echo hello > {m.path('echoed')}", shell=True, check=True)
            subprocess.run(["cp", "/etc/hostname", m.path("copied")], check=True)
            self.assertTrue(self.moto.exists(bucket, "touched"))
            self.assertEqual(self.moto.get(bucket, "touched"), b"")
            self.assertEqual(self.moto.get(bucket, "echoed"), b"hello\n")
            self.assertEqual(self.moto.get(bucket, "copied"), read_bytes("/etc/hostname"))

    def test_nested_new_directory_becomes_real_with_its_first_file(self):
        bucket = self.new_bucket()
        with Mount(self.moto, bucket, ["--allow-delete"]) as m:
            os.makedirs(m.path("x/y"))
            self.assertTrue(os.path.isdir(m.path("x/y")))
            # Each directory is a marker object, so an empty one lasts.
            self.assertEqual(self.moto.keys(bucket), ["x/", "x/y/"])
            write_file(m.path("x/y/f"), b"data")
            self.assertEqual(self.moto.get(bucket, "x/y/f"), b"data")
            os.mkdir(m.path("x/empty"))
            self.assertTrue(self.moto.exists(bucket, "x/empty/"))
            os.rmdir(m.path("x/empty"))
            self.assertFalse(os.path.exists(m.path("x/empty")))
            self.assertFalse(self.moto.exists(bucket, "x/empty/"))
            with self.assertRaises(OSError) as ctx:
                os.rmdir(m.path("x/y"))  # has a file in S3
            self.assertEqual(ctx.exception.errno, errno.ENOTEMPTY)

    def test_remove_right_after_close(self):
        # Regressions: unlink racing the release of a just-closed file (EBUSY), and rmdir of
        # a directory emptied by deletes (ENOTEMPTY), as mdtest does.
        bucket = self.new_bucket()
        with Mount(self.moto, bucket, ["--allow-delete"]) as m:
            for i in range(10):
                subprocess.run(f": > {m.path('f')} && rm {m.path('f')}", shell=True, check=True)
                subprocess.run(f"echo {i} > {m.path('g')} && rm {m.path('g')}", shell=True,
                               check=True)
            os.mkdir(m.path("c"))
            subprocess.run(f": > {m.path('c/x')}", shell=True, check=True)
            os.unlink(m.path("c/x"))
            os.rmdir(m.path("c"))
            self.assertEqual(os.listdir(m.dir), [])
        self.assertEqual(self.moto.s3.list_objects_v2(Bucket=bucket).get("KeyCount"), 0)

    def test_o_direct_writes_larger_than_a_fuse_request(self):
        # Regression: the kernel splits an O_DIRECT write into 1 MiB requests; with async
        # direct I/O they arrived out of order and failed with EINVAL (IOR, fio direct=1).
        bucket = self.new_bucket()
        payload = data(12 << 20, seed=9)
        with Mount(self.moto, bucket) as m:
            fd = os.open(m.path("direct"), os.O_WRONLY | os.O_CREAT | os.O_DIRECT)
            buf = mmap.mmap(-1, 4 << 20)  # page-aligned, as O_DIRECT wants
            for off in range(0, len(payload), 4 << 20):
                buf[:] = payload[off:off + (4 << 20)]
                self.assertEqual(os.pwritev(fd, [buf], off), 4 << 20)
            os.close(fd)
        self.assertEqual(self.moto.get(bucket, "direct"), payload)

    def test_non_sequential_write_is_einval(self):
        bucket = self.new_bucket()
        with Mount(self.moto, bucket) as m:
            fd = os.open(m.path("f"), os.O_WRONLY | os.O_CREAT)
            os.write(fd, b"abc")
            with self.assertRaises(OSError) as ctx:
                os.pwrite(fd, b"z", 100)
            self.assertEqual(ctx.exception.errno, errno.EINVAL)
            # The file is spoiled: close reports it and nothing truncated reaches S3.
            with self.assertRaises(OSError) as ctx:
                os.close(fd)
            self.assertEqual(ctx.exception.errno, errno.EINVAL)
        self.assertFalse(self.moto.exists(bucket, "f"))

    def test_overwrite_refused_without_option_and_allowed_with_it(self):
        bucket = self.new_bucket()
        self.moto.put(bucket, "existing", b"original")
        with Mount(self.moto, bucket) as m:
            with self.assertRaises(OSError) as ctx:
                write_file(m.path("existing"), b"new")
            self.assertEqual(ctx.exception.errno, errno.EPERM)
        self.assertEqual(self.moto.get(bucket, "existing"), b"original")
        with Mount(self.moto, bucket, ["--allow-overwrite"]) as m:
            write_file(m.path("existing"), b"replaced")
            self.assertEqual(self.moto.get(bucket, "existing"), b"replaced")
            # Without O_TRUNC the object is changed in place: the rest stays.
            fd = os.open(m.path("existing"), os.O_WRONLY)
            os.pwrite(fd, b"X", 0)
            os.close(fd)
            self.assertEqual(self.moto.get(bucket, "existing"), b"Xeplaced")

    def test_delete_needs_allow_delete(self):
        bucket = self.new_bucket()
        self.moto.put(bucket, "victim", b"v")
        with Mount(self.moto, bucket) as m:
            with self.assertRaises(OSError) as ctx:
                os.unlink(m.path("victim"))
            self.assertEqual(ctx.exception.errno, errno.EPERM)
        self.assertTrue(self.moto.exists(bucket, "victim"))
        with Mount(self.moto, bucket, ["--allow-delete"]) as m:
            os.unlink(m.path("victim"))
            self.assertFalse(self.moto.exists(bucket, "victim"))
            self.assertFalse(os.path.exists(m.path("victim")))

    def test_read_only_mount_refuses_every_mutation(self):
        bucket = self.new_bucket()
        self.moto.put(bucket, "f", b"f")
        # (--allow-delete with it is refused at start-up: see test_bad_input.)
        with Mount(self.moto, bucket, ["--read-only"]) as m:
            self.assertEqual(read_bytes(m.path("f")), b"f")
            for op in (lambda: open(m.path("new"), "wb"),
                       lambda: os.unlink(m.path("f")),
                       lambda: os.mkdir(m.path("d")),
                       lambda: open(m.path("f"), "r+b")):
                with self.assertRaises(OSError) as ctx:
                    op()
                self.assertEqual(ctx.exception.errno, errno.EROFS)

    def test_unsupported_operations_errnos(self):
        bucket = self.new_bucket()
        self.moto.put(bucket, "f", b"f")
        with Mount(self.moto, bucket) as m:
            before = os.stat(m.path("f"))
            cases = [
                ("rename", lambda: os.rename(m.path("f"), m.path("g")), errno.EPERM),
                ("link", lambda: os.link(m.path("f"), m.path("h")), errno.EPERM),
                ("symlink", lambda: os.symlink("f", m.path("s")), errno.EPERM),
                ("setxattr", lambda: os.setxattr(m.path("f"), "user.k", b"v"), errno.EOPNOTSUPP),
                ("getxattr", lambda: os.getxattr(m.path("f"), "user.k"), errno.EOPNOTSUPP),
                ("mknod fifo", lambda: os.mkfifo(m.path("p")), errno.EPERM),
                ("truncate", lambda: os.truncate(m.path("f"), 0), errno.EPERM),
                ("append", lambda: open(m.path("f"), "ab"), errno.EPERM),
            ]
            for name, op, want in cases:
                with self.subTest(name):
                    with self.assertRaises(OSError) as ctx:
                        op()
                    self.assertEqual(ctx.exception.errno, want,
                                     f"{name}: {os.strerror(ctx.exception.errno)}")
            # Modes, owners and times are accepted and not kept (tar -x, cp -a run).
            os.chmod(m.path("f"), 0o600)
            os.chown(m.path("f"), 1234, 1234)
            os.utime(m.path("f"), (1, 1))
            after = os.stat(m.path("f"))
            self.assertEqual((after.st_mode, after.st_uid), (before.st_mode, before.st_uid))
        self.assertEqual(self.moto.get(bucket, "f"), b"f")

    def test_rename_and_changes_in_place(self):
        bucket = self.new_bucket()
        self.moto.put(bucket, "f", b"hello")
        self.moto.put(bucket, "d/a", b"A")
        self.moto.put(bucket, "d/sub/b", b"B")
        with Mount(self.moto, bucket, ["--allow-delete", "--allow-overwrite"]) as m:
            os.rename(m.path("f"), m.path("g"))
            self.assertEqual(read_bytes(m.path("g")), b"hello")
            self.assertFalse(os.path.exists(m.path("f")))
            subprocess.run(["mv", m.path("d"), m.path("e")], check=True)
            self.assertEqual(read_bytes(m.path("e/sub/b")), b"B")
            with open(m.path("g"), "ab") as f:  # append
                f.write(b" world")
            self.assertEqual(read_bytes(m.path("g")), b"hello world")
            os.truncate(m.path("g"), 5)
            self.assertEqual(os.stat(m.path("g")).st_size, 5)
            subprocess.run(["dd", "of=" + m.path("g"), "bs=1", "seek=1", "conv=notrunc",
                            "status=none"], input=b"E", check=True)
            with open(m.path("g"), "r+b") as f:  # read back what was written, before close
                f.seek(4)
                f.write(b"O!")
                f.seek(0)
                self.assertEqual(f.read(), b"hEllO!")
        self.assertEqual(self.moto.get(bucket, "g"), b"hEllO!")
        self.assertEqual(self.moto.keys(bucket), ["e/a", "e/sub/b", "g"])

    def test_upload_error_is_returned_by_close(self):
        bucket = self.new_bucket()
        with Mount(self.moto, bucket) as m:
            f = open(m.path("doomed"), "wb")
            f.write(b"x" * 1000)
            self.moto.s3.delete_bucket(Bucket=bucket)  # the upload cannot succeed now
            with self.assertRaises(OSError):
                f.close()


class NewFileReadBackTest(MountTestCase):
    """New files that are read back or changed before close: they stream until then, then
    the upload is completed and the file goes on as a change of the object it made."""

    OPTIONS = ["--write-part-size", str(5 << 20)]  # parts leave early; objects stay small

    def fresh_read(self, fd, size, offset):
        # The kernel keeps the pages a write filled: drop them, so the read reaches s3mount.
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        return os.pread(fd, size, offset)

    def test_o_rdwr_new_file_reads_back_after_parts_left(self):
        bucket = self.new_bucket()
        first = data(20 << 20, seed=61)
        mid = 10 << 20
        with Mount(self.moto, bucket, self.OPTIONS) as m:
            fd = os.open(m.path("f"), os.O_RDWR | os.O_CREAT, 0o644)
            try:
                for i in range(0, len(first), 1 << 20):
                    os.write(fd, first[i:i + (1 << 20)])
                self.assertFalse(self.moto.exists(bucket, "f"))  # streaming
                self.assertEqual(self.fresh_read(fd, 4096, 0), first[:4096])
                self.assertEqual(self.fresh_read(fd, 1 << 20, mid - 100),
                                 first[mid - 100:mid - 100 + (1 << 20)])
                # The read completed the upload: S3 holds what was written so far.
                self.assertEqual(self.moto.get(bucket, "f"), first)
                more = data(3 << 20, seed=62)
                os.write(fd, more)  # at the end, where the file offset is
                os.pwrite(fd, b"patched", mid)
                expected = bytearray(first + more)
                expected[mid:mid + 7] = b"patched"
                self.assertEqual(self.fresh_read(fd, 64, mid - 32), bytes(expected[mid - 32:mid + 32]))
                self.assertEqual(os.fstat(fd).st_size, len(expected))
                self.assertEqual(self.moto.get(bucket, "f"), first)  # staged until close
            finally:
                os.close(fd)
            self.assertEqual(self.moto.get(bucket, "f"), bytes(expected))
            self.assertEqual(read_bytes(m.path("f")), bytes(expected))
        self.assertEqual(self.moto.keys(bucket), ["f"])

    def test_ftruncate_cuts_a_new_streamed_file(self):
        bucket = self.new_bucket()
        payload = data(20 << 20, seed=63)
        with Mount(self.moto, bucket, self.OPTIONS) as m:
            with open(m.path("w"), "wb") as f:  # write-only, streamed
                f.write(payload)
                f.flush()
                os.ftruncate(f.fileno(), 7 << 20)
                self.assertEqual(os.fstat(f.fileno()).st_size, 7 << 20)
                f.seek(7 << 20)
                f.write(b"end")
            with open(m.path("rw"), "w+b") as f:  # O_RDWR: read back after the cut
                f.write(payload)
                f.flush()
                os.ftruncate(f.fileno(), 12345)
                os.posix_fadvise(f.fileno(), 0, 0, os.POSIX_FADV_DONTNEED)
                f.seek(0)
                self.assertEqual(f.read(), payload[:12345])
            self.assertEqual(self.moto.get(bucket, "w"), payload[:7 << 20] + b"end")
            self.assertEqual(self.moto.get(bucket, "rw"), payload[:12345])
            self.assertEqual(os.stat(m.path("rw")).st_size, 12345)

    def test_a_failed_commit_after_read_back_keeps_the_object_and_fails_close(self):
        bucket = self.new_bucket()
        first = data(12 << 20, seed=64)
        with Mount(self.moto, bucket, self.OPTIONS) as m:
            fd = os.open(m.path("f"), os.O_RDWR | os.O_CREAT, 0o644)
            os.write(fd, first)
            self.assertEqual(self.fresh_read(fd, 10, 0), first[:10])
            os.pwrite(fd, b"mine", 0)
            self.moto.put(bucket, "f", b"theirs")  # another writer replaces the object
            with self.assertRaises(OSError) as ctx:
                os.close(fd)
            self.assertEqual(ctx.exception.errno, errno.ESTALE)
            self.assertEqual(self.moto.get(bucket, "f"), b"theirs")

    def test_a_failed_upload_at_read_back_fails_the_read_and_close(self):
        bucket = self.new_bucket()
        with Mount(self.moto, bucket, self.OPTIONS) as m:
            fd = os.open(m.path("f"), os.O_RDWR | os.O_CREAT, 0o644)
            os.write(fd, data(12 << 20, seed=65))
            uploads = self.moto.s3.list_multipart_uploads(Bucket=bucket).get("Uploads", [])
            self.assertEqual(len(uploads), 1)
            self.moto.s3.abort_multipart_upload(Bucket=bucket, Key="f",
                                                UploadId=uploads[0]["UploadId"])
            with self.assertRaises(OSError):  # the upload it must complete is gone
                self.fresh_read(fd, 10, 0)
            with self.assertRaises(OSError):
                os.write(fd, b"more")
            with self.assertRaises(OSError):
                os.close(fd)
        self.assertFalse(self.moto.exists(bucket, "f"))


class UnmountTest(MountTestCase):
    def test_sigterm_during_close_loses_nothing(self):
        bucket = self.new_bucket()
        payload = data(40 << 20, seed=5)
        with Mount(self.moto, bucket) as m:
            pid = daemon_pid(m.dir)
            self.assertIsNotNone(pid)
            closing = threading.Event()
            outcome = {}

            def writer():
                f = open(m.path("big"), "wb")
                f.write(payload)  # the last part and the completion wait for close
                closing.set()
                try:
                    f.close()
                    outcome["close"] = "ok"
                except OSError as e:
                    outcome["close"] = e
            t = threading.Thread(target=writer)
            t.start()
            closing.wait()
            os.kill(pid, signal.SIGTERM)  # while close() is uploading
            t.join(60)
            self.assertTrue(wait_gone(pid), "daemon did not exit on SIGTERM")
            self.assertFalse(is_mounted(m.dir))
            self.assertEqual(outcome.get("close"), "ok")
        # close() succeeded, so the object must be complete.
        self.assertEqual(self.moto.get(bucket, "big"), payload)

    def test_fusermount_unmount_waits_for_uploads_of_closed_files(self):
        bucket = self.new_bucket()
        payload = data(12 << 20, seed=6)
        with Mount(self.moto, bucket) as m:
            # A file whose release (not flush) starts the upload: written through a
            # duplicated descriptor, so the last close is the release.
            fd = os.open(m.path("late"), os.O_WRONLY | os.O_CREAT)
            dup = os.dup(fd)
            os.write(fd, payload)
            os.close(fd)   # flush: uploads and completes
            os.close(dup)  # release
            m.unmount()
        self.assertEqual(self.moto.get(bucket, "late"), payload)


if __name__ == "__main__":
    unittest.main()
