"""The daemon's life: start-up failures (exit code and one-line message, nothing left
mounted), readiness for systemd, and clean exits on unmount and signals."""
import os
import signal
import socket
import subprocess
import tempfile
import time
import unittest

from harness import (Moto, MountTestCase, S3MOUNT, TEST_ENV, free_port, is_mounted,
                     run_s3mount)


class StartupFailureTest(MountTestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="s3mount-life-")

    def tearDown(self):
        if is_mounted(self.dir):
            subprocess.run(["umount", "-l", self.dir])
        os.rmdir(self.dir)

    def assertFails(self, args, code, needle, env=None):
        r = run_s3mount(args, env)
        self.assertEqual(r.returncode, code, r.stderr)
        lines = r.stderr.strip().splitlines()
        self.assertEqual(len(lines), 1, r.stderr)
        self.assertTrue(lines[0].startswith("s3mount: "), lines[0])
        self.assertIn(needle, lines[0])
        self.assertFalse(is_mounted(self.dir))
        return lines[0]

    def test_bad_arguments(self):
        self.assertFails(["--bogus", "b123", self.dir], 2, "--bogus")
        self.assertFails(["b123"], 2, "DIRECTORY")
        self.assertFails(["--metadata-ttl", "x", "b123", self.dir], 2, "--metadata-ttl")

    def test_no_such_bucket(self):
        self.assertFails(["--endpoint-url", self.moto.endpoint, "no-such-bucket", self.dir], 1,
                         "bucket 'no-such-bucket' does not exist")

    def test_unreachable_endpoint(self):
        self.assertFails(["--endpoint-url", f"http://127.0.0.1:{free_port()}", "b123", self.dir],
                         1, "cannot reach the S3 endpoint")

    def test_bad_endpoint_url(self):
        self.assertFails(["--endpoint-url", "127.0.0.1:9", "b123", self.dir], 2,
                         "--endpoint-url '127.0.0.1:9' is not a URL")

    def test_mount_directory_missing_or_not_a_directory(self):
        bucket = self.new_bucket()
        self.assertFails(["--endpoint-url", self.moto.endpoint, bucket, self.dir + "/nope"], 1,
                         "does not exist")
        with tempfile.NamedTemporaryFile() as f:
            self.assertFails(["--endpoint-url", self.moto.endpoint, bucket, f.name], 1,
                             "is not a directory")

    def test_already_mounted(self):
        bucket = self.new_bucket()
        args = ["--endpoint-url", self.moto.endpoint, bucket, self.dir]
        self.assertEqual(run_s3mount(args).returncode, 0)
        try:
            r = run_s3mount(args)
            self.assertEqual(r.returncode, 1)
            self.assertIn("already mounted", r.stderr)
        finally:
            subprocess.run(["fusermount3", "-u", self.dir], check=True)

    def test_fuse_unavailable(self):
        bucket = self.new_bucket()
        # A private /dev without the fuse device.
        script = (f"mount -t tmpfs none /dev && {S3MOUNT} --endpoint-url {self.moto.endpoint} "
                  f"{bucket} {self.dir}")
        env = dict(os.environ, **TEST_ENV)
        r = subprocess.run(["unshare", "-m", "sh", "-c", script], capture_output=True, text=True,
                           env=env)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("FUSE is not available", r.stderr)

    def test_access_denied(self):
        # A second moto that checks credentials: ours are unknown to it.
        os.environ["INITIAL_NO_AUTH_ACTION_COUNT"] = "0"
        try:
            strict = Moto()
        finally:
            del os.environ["INITIAL_NO_AUTH_ACTION_COUNT"]
        try:
            line = self.assertFails(["--endpoint-url", strict.endpoint, "b123", self.dir], 1,
                                    "access denied")
            self.assertNotIn("testing", line)  # no credential in the message
        finally:
            strict.stop()


class RunningDaemonTest(MountTestCase):
    def test_foreground_notifies_systemd_and_exits_0_on_sigterm(self):
        bucket = self.new_bucket()
        mnt = tempfile.mkdtemp(prefix="s3mount-fg-")
        sock_path = os.path.join(tempfile.mkdtemp(), "notify")
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        sock.bind(sock_path)
        sock.settimeout(30)
        env = dict(os.environ, NOTIFY_SOCKET=sock_path, **TEST_ENV)
        p = subprocess.Popen([S3MOUNT, "-f", "--endpoint-url", self.moto.endpoint, bucket, mnt],
                             env=env, stderr=subprocess.PIPE, text=True)
        try:
            msg = sock.recv(4096).decode()
            self.assertIn("READY=1", msg)
            self.assertTrue(is_mounted(mnt))  # mounted by the time READY=1 arrives
            with open(os.path.join(mnt, "f"), "wb") as f:
                f.write(b"before the signal")
            p.send_signal(signal.SIGTERM)
            self.assertEqual(p.wait(30), 0)
            self.assertFalse(is_mounted(mnt))
            self.assertEqual(self.moto.get(bucket, "f"), b"before the signal")
        finally:
            if p.poll() is None:
                p.kill()
            if is_mounted(mnt):
                subprocess.run(["umount", "-l", mnt])
            os.rmdir(mnt)

    def test_umount_makes_the_daemon_exit_0(self):
        bucket = self.new_bucket()
        mnt = tempfile.mkdtemp(prefix="s3mount-fg-")
        env = dict(os.environ, **TEST_ENV)
        p = subprocess.Popen([S3MOUNT, "-f", "--endpoint-url", self.moto.endpoint, bucket, mnt],
                             env=env, stderr=subprocess.PIPE, text=True)
        try:
            deadline = time.time() + 30
            while not is_mounted(mnt) and time.time() < deadline:
                time.sleep(0.05)
            self.assertTrue(is_mounted(mnt))
            subprocess.run(["umount", mnt], check=True)
            self.assertEqual(p.wait(30), 0)
        finally:
            if p.poll() is None:
                p.kill()
            os.rmdir(mnt)

    def test_sigterm_during_exit_after_an_unmount_is_harmless(self):
        # systemd's stop: ExecStop unmounts, then SIGTERM goes to the daemon, which may be
        # exiting by then. The signal watcher used to log into a logger being destroyed
        # (SIGSEGV in 23 of 300 such stops by hand, after a file was written).
        bucket = self.new_bucket()
        mnt = tempfile.mkdtemp(prefix="s3mount-fg-")
        env = dict(os.environ, **TEST_ENV)
        codes = []
        try:
            for i in range(100):
                p = subprocess.Popen([S3MOUNT, "-f", "--endpoint-url", self.moto.endpoint, bucket,
                                      mnt], env=env, stderr=subprocess.DEVNULL)
                try:
                    deadline = time.time() + 30
                    while not is_mounted(mnt) and time.time() < deadline:
                        time.sleep(0.02)
                    with open(os.path.join(mnt, f"f{i}"), "wb") as f:
                        f.write(b"x")
                    subprocess.run(["fusermount3", "-u", mnt], check=True)
                    p.send_signal(signal.SIGTERM)
                    codes.append(p.wait(30))
                finally:
                    if p.poll() is None:
                        p.kill()
                        p.wait()
            self.assertEqual(codes, [0] * 100)
        finally:
            if is_mounted(mnt):
                subprocess.run(["umount", "-l", mnt])
            os.rmdir(mnt)


if __name__ == "__main__":
    unittest.main()
