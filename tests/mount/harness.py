"""Test harness for real FUSE mounts of s3mount against a real S3-compatible server.

Starts moto_server on a free loopback port, gives tests an independent S3 client (boto3)
to set up and check objects, and mounts/unmounts s3mount. Used by test_*.py here.
"""
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import unittest
import uuid

import boto3
from botocore.config import Config

SOURCE_DIR = os.environ.get("S3MOUNT_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "..", ".."))
BINARY_DIR = os.environ.get("S3MOUNT_BINARY_DIR", os.path.join(SOURCE_DIR, "build"))
S3MOUNT = os.path.join(BINARY_DIR, "s3mount")

# Credentials moto accepts; never real ones.
TEST_ENV = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_REGION": "us-east-1"}


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Moto:
    """One moto_server for a test module."""

    def __init__(self):
        self.port = free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.proc = subprocess.Popen(["moto_server", "-H", "127.0.0.1", "-p", str(self.port)],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                     start_new_session=True)
        self.s3 = boto3.client("s3", endpoint_url=self.endpoint, region_name="us-east-1",
                               aws_access_key_id="testing", aws_secret_access_key="testing",
                               config=Config(retries={"max_attempts": 2}))
        deadline = time.time() + 60
        while True:
            try:
                self.s3.list_buckets()
                return
            except self.s3.exceptions.ClientError:
                return  # it answered (a moto that checks credentials says no)
            except Exception:  # still starting
                if time.time() > deadline or self.proc.poll() is not None:
                    raise RuntimeError("moto_server did not start")
                time.sleep(0.1)

    def bucket(self):
        name = "t" + uuid.uuid4().hex[:12]
        self.s3.create_bucket(Bucket=name)
        return name

    def put(self, bucket, key, data):
        self.s3.put_object(Bucket=bucket, Key=key, Body=data)

    def get(self, bucket, key):
        return self.s3.get_object(Bucket=bucket, Key=key)["Body"].read()

    def keys(self, bucket, prefix=""):
        """Every key under `prefix`, sorted (all pages)."""
        out = []
        for page in self.s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            out += [o["Key"] for o in page.get("Contents", [])]
        return sorted(out)

    def exists(self, bucket, key):
        try:
            self.s3.head_object(Bucket=bucket, Key=key)
            return True
        except self.s3.exceptions.ClientError:
            return False

    def stop(self):
        os.killpg(self.proc.pid, signal.SIGTERM)
        self.proc.wait(timeout=10)


def run_s3mount(args, env_extra=None, timeout=60):
    env = dict(os.environ)
    env.update(TEST_ENV)
    env.update(env_extra or {})
    return subprocess.run([S3MOUNT] + args, env=env, capture_output=True, text=True,
                          timeout=timeout)


def is_mounted(path):
    real = os.path.realpath(path)
    with open("/proc/self/mountinfo") as f:
        return any(line.split()[4] == real for line in f)


def daemon_pid(mountpoint):
    """The pid of the s3mount daemon serving `mountpoint`."""
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                argv = f.read().split(b"\0")
            with open(f"/proc/{pid}/stat") as f:
                state = f.read().split(")")[-1].split()[0]
        except OSError:
            continue
        if state != "Z" and argv and argv[0].endswith(b"s3mount") and \
                mountpoint.encode() in argv:
            return int(pid)
    return None


def wait_gone(pid, timeout=30):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            with open(f"/proc/{pid}/stat") as f:
                if f.read().split(")")[-1].split()[0] == "Z":
                    return True
        except OSError:
            return True
        time.sleep(0.05)
    return False


class Mount:
    """A mounted bucket: `with Mount(moto, bucket, ["--allow-delete"]) as m: m.path(...)`."""

    def __init__(self, moto, bucket, options=(), log=True):
        self.moto = moto
        self.bucket = bucket
        self.options = list(options)
        self.dir = tempfile.mkdtemp(prefix="s3mount-test-")
        self.log_dir = tempfile.mkdtemp(prefix="s3mount-log-") if log else None
        self.env_extra = None

    def __enter__(self):
        args = ["--endpoint-url", self.moto.endpoint] + self.options
        if self.log_dir:
            args += ["-l", self.log_dir]
        r = run_s3mount(args + [self.bucket, self.dir], self.env_extra)
        if r.returncode != 0:
            raise RuntimeError(f"mount failed ({r.returncode}): {r.stderr.strip()}")
        assert is_mounted(self.dir), "s3mount returned 0 but nothing is mounted"
        self.pid = daemon_pid(self.dir)
        return self

    def path(self, *parts):
        return os.path.join(self.dir, *parts)

    def unmount(self):
        if is_mounted(self.dir):
            r = subprocess.run(["fusermount3", "-u", self.dir], capture_output=True, text=True)
            assert r.returncode == 0, f"unmount failed: {r.stderr.strip()}"
        if self.pid:
            assert wait_gone(self.pid), "the daemon did not exit after unmount"

    def log_text(self):
        text = ""
        for name in sorted(os.listdir(self.log_dir or "/nonexistent")):
            with open(os.path.join(self.log_dir, name)) as f:
                text += f.read()
        return text

    def __exit__(self, *exc):
        try:
            self.unmount()
        finally:
            if is_mounted(self.dir):
                subprocess.run(["umount", "-l", self.dir])
            shutil.rmtree(self.dir, ignore_errors=True)


class MountTestCase(unittest.TestCase):
    """Shares one moto_server across the tests of a module."""

    moto = None

    @classmethod
    def setUpClass(cls):
        if MountTestCase.moto is None:
            MountTestCase.moto = Moto()

    def new_bucket(self):
        return self.moto.bucket()


def data(n, seed=1):
    """Deterministic, incompressible test bytes."""
    import random
    return random.Random(seed).randbytes(n)


def _stop_moto():
    if MountTestCase.moto is not None:
        MountTestCase.moto.stop()


import atexit  # noqa: E402

atexit.register(_stop_moto)


def read_bytes(path):
    with open(path, "rb") as f:
        return f.read()
