"""--posix through a real mount: modes (exec bits), symlinks, times kept across remounts, and
the object metadata in s3fs-fuse's format, read back with boto3."""
import contextlib
import os
import shutil
import stat
import subprocess
import tempfile
import time
import unittest

from harness import Mount, MountTestCase, is_mounted, read_bytes

POSIX = ["--posix", "--allow-delete", "--allow-overwrite"]
T2020 = 1577836801  # 2020-01-01 00:00:01 UTC


class PosixMetaTest(MountTestCase):
    def meta(self, bucket, key):
        return self.moto.s3.head_object(Bucket=bucket, Key=key)["Metadata"]

    def test_chmod_makes_a_script_executable_and_ls_shows_modes(self):
        bucket = self.new_bucket()
        with Mount(self.moto, bucket, POSIX) as m:
            script = m.path("run.sh")
            with open(script, "w") as f:
                f.write("#!/bin/sh\necho ran\n")
            with self.assertRaises(PermissionError):  # 0644: no exec bit
                subprocess.run([script], capture_output=True)
            subprocess.run(["chmod", "+x", script], check=True)
            out = subprocess.run([script], capture_output=True, text=True, check=True)
            self.assertEqual(out.stdout, "ran\n")
            os.mkdir(m.path("d"))
            subprocess.run(["chmod", "700", m.path("d")], check=True)
            ls = subprocess.run(["ls", "-l", m.dir], capture_output=True, text=True,
                                check=True).stdout
            self.assertRegex(ls, r"(?m)^-rwxr-xr-x .* run\.sh$")
            self.assertRegex(ls, r"(?m)^drwx------ .* d$")
        meta = self.meta(bucket, "run.sh")
        self.assertEqual(meta["mode"], str(0o100755))
        self.assertEqual((meta["uid"], meta["gid"]), (str(os.getuid()), str(os.getgid())))
        self.assertEqual(self.meta(bucket, "d/")["mode"], str(0o700))  # as s3fs: no type bits
        with Mount(self.moto, bucket, POSIX) as m:  # read back after a remount
            ls = subprocess.run(["ls", "-l", m.dir], capture_output=True, text=True,
                                check=True).stdout
            self.assertRegex(ls, r"(?m)^-rwxr-xr-x .* run\.sh$")
            self.assertRegex(ls, r"(?m)^drwx------ .* d$")
            out = subprocess.run([m.path("run.sh")], capture_output=True, text=True, check=True)
            self.assertEqual(out.stdout, "ran\n")

    def test_symlink_readlink_and_cat_through_the_link(self):
        bucket = self.new_bucket()
        with Mount(self.moto, bucket, POSIX) as m:
            with open(m.path("target.txt"), "w") as f:
                f.write("through the link\n")
            subprocess.run(["ln", "-s", "target.txt", m.path("lnk")], check=True)
            self.assertEqual(os.readlink(m.path("lnk")), "target.txt")
            self.assertTrue(stat.S_ISLNK(os.lstat(m.path("lnk")).st_mode))
            cat = subprocess.run(["cat", m.path("lnk")], capture_output=True, text=True,
                                 check=True)
            self.assertEqual(cat.stdout, "through the link\n")
        self.assertEqual(self.moto.get(bucket, "lnk"), b"target.txt")
        self.assertEqual(self.meta(bucket, "lnk")["mode"], str(0o120777))
        with Mount(self.moto, bucket, POSIX) as m:
            self.assertEqual(os.readlink(m.path("lnk")), "target.txt")
            self.assertEqual(read_bytes(m.path("lnk")), b"through the link\n")
        with Mount(self.moto, bucket, ["--allow-delete"]) as m:  # without --posix: EPERM
            with self.assertRaises(PermissionError):
                os.symlink("target.txt", m.path("lnk2"))

    def test_touch_d_and_chown_survive_a_remount(self):
        bucket = self.new_bucket()
        with Mount(self.moto, bucket, POSIX) as m:
            with open(m.path("f"), "w") as f:
                f.write("x")
            subprocess.run(["touch", "-d", "2020-01-01 00:00:01", m.path("f")], check=True,
                           env=dict(os.environ, TZ="UTC"))
            os.chown(m.path("f"), 1000, 1001)
            self.assertEqual(os.stat(m.path("f")).st_mtime, T2020)
        meta = self.meta(bucket, "f")
        self.assertEqual((meta["mtime"], meta["uid"], meta["gid"]), (str(T2020), "1000", "1001"))
        self.assertEqual(meta["mode"], str(0o100644))
        with Mount(self.moto, bucket, POSIX) as m:
            st = os.stat(m.path("f"))
            self.assertEqual((st.st_mtime, st.st_uid, st.st_gid), (T2020, 1000, 1001))
            self.assertEqual(read_bytes(m.path("f")), b"x")

    def test_objects_written_by_s3fs_read_back(self):
        bucket = self.new_bucket()
        self.moto.s3.put_object(Bucket=bucket, Key="s3fs", Body=b"hello",
                                Metadata={"mode": "33256", "uid": "1000", "gid": "1001",
                                          "mtime": str(T2020), "ctime": str(T2020),
                                          "atime": str(T2020)})
        self.moto.s3.put_object(Bucket=bucket, Key="sd/", Body=b"", Metadata={"mode": "493"},
                                ContentType="application/x-directory")
        self.moto.s3.put_object(Bucket=bucket, Key="sl", Body=b"s3fs",
                                Metadata={"mode": "41471"})
        with Mount(self.moto, bucket, POSIX) as m:
            entries = {e.name: e.stat(follow_symlinks=False) for e in os.scandir(m.dir)}
            f = entries["s3fs"]
            self.assertEqual((f.st_mode, f.st_uid, f.st_gid, f.st_mtime),
                             (0o100750, 1000, 1001, T2020))
            self.assertEqual(entries["sd"].st_mode, stat.S_IFDIR | 0o755)
            self.assertEqual(entries["sl"].st_mode, 0o120777)
            self.assertEqual(os.readlink(m.path("sl")), "s3fs")
            self.assertEqual(read_bytes(m.path("sl")), b"hello")

    @contextlib.contextmanager
    def s3fs_mount(self, bucket):
        """s3fs-fuse itself on the same bucket (moto's test credentials)."""
        work = tempfile.mkdtemp(prefix="s3fs-test-")
        mnt = os.path.join(work, "mnt")
        os.mkdir(mnt)
        passwd = os.path.join(work, "passwd")
        with open(os.open(passwd, os.O_WRONLY | os.O_CREAT, 0o600), "w") as f:
            f.write("testing:testing\n")
        subprocess.run(["s3fs", bucket, mnt, "-o", f"url={self.moto.endpoint}", "-o",
                        "use_path_request_style", "-o", f"passwd_file={passwd}"], check=True)
        try:
            deadline = time.time() + 10
            while not is_mounted(mnt) and time.time() < deadline:
                time.sleep(0.05)
            yield mnt
        finally:
            subprocess.run(["fusermount3", "-u", mnt])
            shutil.rmtree(work, ignore_errors=True)

    @unittest.skipUnless(shutil.which("s3fs"), "s3fs-fuse is not installed")
    def test_s3fs_reads_ours_and_we_read_s3fs(self):
        bucket = self.new_bucket()
        utc = dict(os.environ, TZ="UTC")
        with self.s3fs_mount(bucket) as mnt:
            with open(os.path.join(mnt, "theirs"), "w") as f:
                f.write("x")
            os.chmod(os.path.join(mnt, "theirs"), 0o750)
            os.chown(os.path.join(mnt, "theirs"), 1000, 1001)
            subprocess.run(["touch", "-d", "2020-01-01 00:00:01", os.path.join(mnt, "theirs")],
                           env=utc, check=True)
            os.symlink("theirs", os.path.join(mnt, "their-link"))
            os.mkdir(os.path.join(mnt, "their-dir"), 0o700)
        with Mount(self.moto, bucket, POSIX) as m:
            st = os.stat(m.path("theirs"))
            self.assertEqual((st.st_mode, st.st_uid, st.st_gid, st.st_mtime),
                             (0o100750, 1000, 1001, T2020))
            self.assertEqual(os.readlink(m.path("their-link")), "theirs")
            self.assertEqual(os.stat(m.path("their-dir")).st_mode, stat.S_IFDIR | 0o700)
            with open(m.path("ours"), "w") as f:
                f.write("hello")
            os.chmod(m.path("ours"), 0o741)
            os.chown(m.path("ours"), 1002, 1003)
            subprocess.run(["touch", "-d", "2021-01-01 00:00:01", m.path("ours")], env=utc,
                           check=True)
            os.symlink("ours", m.path("our-link"))
            os.mkdir(m.path("our-dir"), 0o711)
        with self.s3fs_mount(bucket) as mnt:
            st = os.stat(os.path.join(mnt, "ours"))
            self.assertEqual((st.st_mode, st.st_uid, st.st_gid, st.st_mtime),
                             (0o100741, 1002, 1003, 1609459201))
            self.assertEqual(os.readlink(os.path.join(mnt, "our-link")), "ours")
            self.assertEqual(read_bytes(os.path.join(mnt, "our-link")), b"hello")
            self.assertEqual(stat.S_IMODE(os.stat(os.path.join(mnt, "our-dir")).st_mode), 0o711)


if __name__ == "__main__":
    unittest.main()
