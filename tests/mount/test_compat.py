"""Mountpoint 1.24's options through real mounts against moto: the headers they put on the
objects (boto3 head_object) and on the requests (a recording proxy, for the headers moto
drops), OTLP export to a receiver started here, and a mount on /dev/fd/N made by this test
the way Kubernetes' CSI driver makes it."""
import ctypes
import errno
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import types
import unittest
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from harness import (S3MOUNT, SOURCE_DIR, TEST_ENV, Mount, MountTestCase, daemon_pid,
                     is_mounted, read_bytes, wait_gone)

sys.path.insert(0, os.path.join(SOURCE_DIR, "tests", "fixtures"))
from recording_proxy import RecordingProxy  # noqa: E402

KMS_KEY = "arn:aws:kms:us-east-1:123456789012:key/0f1e2d3c-aaaa-bbbb-cccc-000000000001"
OWNER = "123456789012"


def header_of(requests, method, path_part, name):
    """The values of header `name` on the requests with this method whose path has `path_part`."""
    return [h.get(name) for m, p, h in requests if m == method and path_part in p]


class EncryptionAndContentTypeTest(MountTestCase):
    def test_sse_kms_on_put_and_rename_copy(self):
        bucket = self.new_bucket()
        with Mount(self.moto, bucket, ["--sse", "aws:kms", "--sse-kms-key-id", KMS_KEY,
                                       "--allow-delete"]) as m:
            with open(m.path("secret.txt"), "wb") as f:
                f.write(b"classified")
            os.rename(m.path("secret.txt"), m.path("moved.txt"))  # CopyObject + DeleteObject
        head = self.moto.s3.head_object(Bucket=bucket, Key="moved.txt")
        self.assertEqual(head.get("ServerSideEncryption"), "aws:kms")
        self.assertEqual(head.get("SSEKMSKeyId"), KMS_KEY)
        self.assertEqual(self.moto.get(bucket, "moved.txt"), b"classified")

    def test_sse_aes256_and_none(self):
        bucket = self.new_bucket()
        with Mount(self.moto, bucket, ["--sse", "AES256"]) as m:
            with open(m.path("a"), "wb") as f:
                f.write(b"x")
        with Mount(self.moto, bucket, []) as m:
            with open(m.path("b"), "wb") as f:
                f.write(b"y")
        self.assertEqual(self.moto.s3.head_object(Bucket=bucket, Key="a").get(
            "ServerSideEncryption"), "AES256")
        self.assertIsNone(self.moto.s3.head_object(Bucket=bucket, Key="b").get(
            "ServerSideEncryption"))

    def test_infer_content_type(self):
        bucket = self.new_bucket()
        with Mount(self.moto, bucket, ["--infer-content-type"]) as m:
            for name in ("page.html", "data.JSON", "README"):
                with open(m.path(name), "wb") as f:
                    f.write(b"{}")
        with Mount(self.moto, bucket, []) as m:
            with open(m.path("plain.html"), "wb") as f:
                f.write(b"<p>")
        types_ = {k: self.moto.s3.head_object(Bucket=bucket, Key=k)["ContentType"]
                  for k in ("page.html", "data.JSON", "README", "plain.html")}
        self.assertEqual(types_["page.html"], "text/html")
        self.assertEqual(types_["data.JSON"], "application/json")
        # No known extension, or no --infer-content-type: the server's default.
        self.assertEqual(types_["README"], types_["plain.html"])
        self.assertNotEqual(types_["plain.html"], "text/html")


class RequestHeadersTest(MountTestCase):
    def test_owner_user_agent_and_sse_on_the_wire(self):
        bucket = self.new_bucket()
        self.moto.put(bucket, "old.txt", b"before")
        with RecordingProxy(self.moto.endpoint) as proxy:
            via = types.SimpleNamespace(endpoint=proxy.endpoint)
            with Mount(via, bucket, ["--expected-bucket-owner", OWNER, "--user-agent-prefix",
                                     "team-a/7", "--sse", "aws:kms:dsse", "--allow-delete"]) as m:
                self.assertEqual(read_bytes(m.path("old.txt")), b"before")
                with open(m.path("new.txt"), "wb") as f:
                    f.write(b"after")
                os.rename(m.path("new.txt"), m.path("renamed.txt"))
            seen = proxy.requests()
        self.assertGreater(len(seen), 4)
        for method, path, h in seen:
            self.assertEqual(h.get("x-amz-expected-bucket-owner"), OWNER, (method, path))
            self.assertRegex(h.get("user-agent", ""), r"^team-a/7 s3mount/\S+$")
        puts = [h for m_, p, h in seen if m_ == "PUT" and "new.txt" in p]
        self.assertEqual([h.get("x-amz-server-side-encryption") for h in puts], ["aws:kms:dsse"])
        copies = [h for m_, p, h in seen if m_ == "PUT" and "x-amz-copy-source" in h]
        self.assertEqual(len(copies), 1)
        self.assertEqual(copies[0].get("x-amz-source-expected-bucket-owner"), OWNER)
        self.assertEqual(copies[0].get("x-amz-server-side-encryption"), "aws:kms:dsse")
        gets = [h for m_, p, h in seen if m_ == "GET" and "old.txt" in p]
        self.assertTrue(gets)
        self.assertTrue(all("x-amz-server-side-encryption" not in h for h in gets))

    def test_debug_crt_logs_the_transport_without_credentials(self):
        bucket = self.new_bucket()
        self.moto.put(bucket, "f", b"z")
        m = Mount(self.moto, bucket, ["--debug-crt"])
        with m:
            self.assertEqual(read_bytes(m.path("f")), b"z")
        log = m.log_text()
        self.assertIn("curl > GET /" + bucket + "/f", log)
        self.assertIn("curl > Authorization: [redacted]", log)
        self.assertIn("curl < HTTP/1.1 206", log)
        self.assertNotIn("AWS4-HMAC-SHA256 Credential", log)
        self.assertNotIn("Signature=", log)

    def test_bind_to_loopback(self):
        bucket = self.new_bucket()
        self.moto.put(bucket, "f", b"via lo")
        with Mount(self.moto, bucket, ["--bind", "lo", "--bind", "lo"]) as m:
            self.assertEqual(read_bytes(m.path("f")), b"via lo")


class NoLogTest(MountTestCase):
    def test_no_log_mounts_and_serves(self):
        bucket = self.new_bucket()
        self.moto.put(bucket, "f", b"quiet")
        with Mount(self.moto, bucket, ["--no-log"], log=False) as m:
            self.assertEqual(read_bytes(m.path("f")), b"quiet")


class IncrementalUploadTest(MountTestCase):
    def test_appends_without_allow_overwrite(self):
        bucket = self.new_bucket()
        self.moto.put(bucket, "log.txt", b"line1\n")
        with Mount(self.moto, bucket, []) as m:  # without it: refused, as in Mountpoint
            with self.assertRaises(PermissionError):
                open(m.path("log.txt"), "ab").close()
        with Mount(self.moto, bucket, ["--incremental-upload"]) as m:
            with open(m.path("log.txt"), "ab") as f:
                f.write(b"line2\n")
            self.assertEqual(read_bytes(m.path("log.txt")), b"line1\nline2\n")
        self.assertEqual(self.moto.get(bucket, "log.txt"), b"line1\nline2\n")


class _Receiver(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.server.posts.append((self.path, self.headers.get("Content-Type"), body))
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")


def data_points(body, name):
    for rm in body["resourceMetrics"]:
        for sm in rm["scopeMetrics"]:
            for metric in sm["metrics"]:
                if metric["name"] == name:
                    kind = next(k for k in ("sum", "gauge", "histogram") if k in metric)
                    return kind, metric[kind]
    return None, None


def attrs(point):
    return {a["key"]: a["value"]["stringValue"] for a in point["attributes"]}


class OtlpTest(MountTestCase):
    def test_metrics_reach_an_otlp_http_receiver(self):
        server = ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
        server.posts = []
        threading.Thread(target=server.serve_forever, daemon=True).start()
        self.addCleanup(server.server_close)
        self.addCleanup(server.shutdown)
        endpoint = f"http://127.0.0.1:{server.server_address[1]}"
        bucket = self.new_bucket()
        with Mount(self.moto, bucket, ["--otlp-endpoint", endpoint,
                                       "--otlp-export-interval", "1"]) as m:
            with open(m.path("one"), "wb") as f:
                f.write(b"1234")
            deadline = time.time() + 15
            puts = None
            while time.time() < deadline and puts is None:
                time.sleep(0.2)
                for path, ctype, raw in list(server.posts):
                    kind, sums = data_points(json.loads(raw), "s3mount_s3_requests_total")
                    for p in (sums or {}).get("dataPoints", []):
                        if attrs(p) == {"operation": "PutObject", "status": "2xx"}:
                            puts = (path, ctype, kind, sums, p)
            self.assertIsNotNone(puts, "no export counted the PutObject")
        path, ctype, kind, sums, point = puts
        self.assertEqual(path, "/v1/metrics")
        self.assertEqual(ctype, "application/json")
        self.assertEqual(kind, "sum")
        self.assertTrue(sums["isMonotonic"])
        self.assertEqual(sums["aggregationTemporality"], 2)
        self.assertEqual(point["asInt"], "1")  # exactly the one small file written
        # The last export, at unmount, has the latency histogram of that PUT too.
        kind, hist = data_points(json.loads(server.posts[-1][2]),
                                 "s3mount_s3_request_duration_seconds")
        self.assertEqual(kind, "histogram")
        put_hist = [p for p in hist["dataPoints"] if attrs(p) == {"operation": "PutObject"}]
        self.assertEqual(len(put_hist), 1)
        self.assertEqual(put_hist[0]["count"], "1")
        self.assertEqual(sum(int(c) for c in put_hist[0]["bucketCounts"]), 1)
        self.assertEqual(len(put_hist[0]["bucketCounts"]),
                         len(put_hist[0]["explicitBounds"]) + 1)


MS_NOSUID, MS_NODEV = 2, 4


def mount_fuse_fd(target):
    """Opens /dev/fuse and mounts it at `target` as a CSI driver does: the fd to hand over."""
    fd = os.open("/dev/fuse", os.O_RDWR)
    libc = ctypes.CDLL(None, use_errno=True)
    opts = f"fd={fd},rootmode=40000,user_id=0,group_id=0".encode()
    if libc.mount(b"s3mount-csi", target.encode(), b"fuse.s3mount", MS_NOSUID | MS_NODEV,
                  opts) != 0:
        e = ctypes.get_errno()
        os.close(fd)
        raise OSError(e, os.strerror(e))
    return fd


class FuseFdTest(MountTestCase):
    def serve_fd(self, bucket, options):
        target = tempfile.mkdtemp(prefix="s3mount-fd-")
        self.addCleanup(os.rmdir, target)
        fd = mount_fuse_fd(target)
        self.addCleanup(lambda: is_mounted(target) and subprocess.run(["umount", "-l", target]))
        spec = f"/dev/fd/{fd}"
        args = ["--endpoint-url", self.moto.endpoint] + options + [bucket, spec]
        try:
            r = subprocess.run([S3MOUNT] + args, env={**os.environ, **TEST_ENV}, pass_fds=(fd,),
                               capture_output=True, text=True, timeout=60)
        finally:
            os.close(fd)  # the daemon holds its own copy
        self.assertEqual(r.returncode, 0, r.stderr)
        return target, daemon_pid(spec)

    def test_mount_on_dev_fd(self):
        bucket = self.new_bucket()
        self.moto.put(bucket, "dir/hello.txt", b"from a CSI-style mount")
        target, pid = self.serve_fd(bucket, ["--allow-delete"])
        self.assertIsNotNone(pid)
        self.assertEqual(os.listdir(target), ["dir"])
        self.assertEqual(read_bytes(os.path.join(target, "dir", "hello.txt")),
                         b"from a CSI-style mount")
        with open(os.path.join(target, "new"), "wb") as f:
            f.write(b"written")
        self.assertEqual(self.moto.get(bucket, "new"), b"written")
        # The caller owns the mount: unmounting it ends the daemon.
        subprocess.run(["umount", target], check=True)
        self.assertTrue(wait_gone(pid), "the daemon did not exit after the caller unmounted")

    def test_read_only_on_dev_fd(self):
        bucket = self.new_bucket()
        self.moto.put(bucket, "f", b"ro")
        target, pid = self.serve_fd(bucket, ["--read-only"])
        self.assertEqual(read_bytes(os.path.join(target, "f")), b"ro")
        with self.assertRaises(OSError) as e:
            open(os.path.join(target, "g"), "wb").close()
        self.assertEqual(e.exception.errno, errno.EROFS)
        subprocess.run(["umount", target], check=True)
        self.assertTrue(wait_gone(pid))


if __name__ == "__main__":
    unittest.main()
