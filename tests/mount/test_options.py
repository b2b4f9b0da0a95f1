"""Mount options through a real mount: prefixes, ownership and modes, storage class,
metadata caching and per-operation tracing."""
import os
import stat
import time
import unittest

from harness import Mount, MountTestCase, read_bytes


class OptionsTest(MountTestCase):
    def test_prefix_from_url_and_option(self):
        bucket = self.new_bucket()
        self.moto.put(bucket, "outside.txt", b"no")
        self.moto.put(bucket, "team/a/data.txt", b"yes")
        for spec, opts in ((f"s3://{bucket}/team/a/", []), (bucket, ["--prefix", "team/a/"])):
            with self.subTest(spec=spec, opts=opts):
                m = Mount(self.moto, spec, opts + ["--allow-delete"])
                with m:
                    self.assertEqual(os.listdir(m.dir), ["data.txt"])
                    self.assertEqual(read_bytes(m.path("data.txt")), b"yes")
                    with open(m.path("new.txt"), "wb") as f:
                        f.write(b"under the prefix")
                    self.assertEqual(self.moto.get(bucket, "team/a/new.txt"), b"under the prefix")
                    os.unlink(m.path("new.txt"))

    def test_uid_gid_and_modes(self):
        bucket = self.new_bucket()
        self.moto.put(bucket, "d/f", b"x")
        with Mount(self.moto, bucket, ["--uid", "1234", "--gid", "4321", "--file-mode", "0640",
                                       "--dir-mode", "0750"]) as m:
            f = os.stat(m.path("d/f"))
            d = os.stat(m.path("d"))
            self.assertEqual((f.st_uid, f.st_gid), (1234, 4321))
            self.assertEqual(stat.S_IMODE(f.st_mode), 0o640)
            self.assertTrue(stat.S_ISREG(f.st_mode))
            self.assertEqual(stat.S_IMODE(d.st_mode), 0o750)
            self.assertTrue(stat.S_ISDIR(d.st_mode))

    def test_storage_class_of_new_objects(self):
        bucket = self.new_bucket()
        with Mount(self.moto, bucket, ["--storage-class", "STANDARD_IA"]) as m:
            with open(m.path("cold"), "wb") as f:
                f.write(b"rarely read")
        head = self.moto.s3.head_object(Bucket=bucket, Key="cold")
        self.assertEqual(head.get("StorageClass"), "STANDARD_IA")

    def test_indefinite_metadata_ttl_keeps_what_it_saw(self):
        bucket = self.new_bucket()
        self.moto.put(bucket, "f", b"12345")
        with Mount(self.moto, bucket, ["--metadata-ttl", "indefinite"]) as m:
            self.assertEqual(os.stat(m.path("f")).st_size, 5)
            self.moto.put(bucket, "f", b"1234567890")
            time.sleep(1.5)
            self.assertEqual(os.stat(m.path("f")).st_size, 5)  # cached on purpose
        with Mount(self.moto, bucket, ["--metadata-ttl", "minimal"]) as m:
            self.assertEqual(os.stat(m.path("f")).st_size, 10)
            self.moto.put(bucket, "f", b"12")
            self.assertEqual(os.stat(m.path("f")).st_size, 2)  # asks every time

    def test_no_sign_request_reads_a_public_bucket(self):
        bucket = self.new_bucket()
        self.moto.s3.put_object(Bucket=bucket, Key="public.txt", Body=b"anyone",
                                ACL="public-read")
        # No credentials at all in the daemon's environment.
        env = {"AWS_ACCESS_KEY_ID": "", "AWS_SECRET_ACCESS_KEY": ""}
        m = Mount(self.moto, bucket, ["--no-sign-request", "--read-only"])
        m.env_extra = env
        with m:
            self.assertEqual(read_bytes(m.path("public.txt")), b"anyone")

    def test_debug_traces_operations_and_requests(self):
        bucket = self.new_bucket()
        self.moto.put(bucket, "traced", b"t")
        m = Mount(self.moto, bucket, ["-d"])
        with m:
            read_bytes(m.path("traced"))
            m.unmount()
            log = m.log_text()
        self.assertIn("lookup parent=1 name=traced", log)
        self.assertIn("S3 GetObject", log)
        self.assertNotIn("testing", log.replace("s3mount-test", ""))  # no credentials


if __name__ == "__main__":
    unittest.main()
