"""Wrong command lines and environments, as a new user types them: each fails at once with
exit status 1 or 2, exactly one line on stderr naming the option (or variable, or file) and
the fix, and nothing mounted. Credentials are checked against SigV4Server, which verifies
signatures (moto does not)."""
import os
import shutil
import subprocess
import sys
import tempfile
import time
import unittest

from harness import (S3MOUNT, SOURCE_DIR, Mount, MountTestCase, daemon_pid, free_port,
                     is_mounted)

sys.path.insert(0, os.path.join(SOURCE_DIR, "tests", "fixtures"))
from sigv4_s3_server import SigV4Server  # noqa: E402

ENV_KEYS = {"AWS_ACCESS_KEY_ID": "AKIDENVIRONMENT", "AWS_SECRET_ACCESS_KEY": "env-secret"}
PROFILE_KEYS = {"AKIDPROFILEGOOD": "profile-secret"}
GOOD_PROFILE = "[good]\naws_access_key_id = AKIDPROFILEGOOD\naws_secret_access_key = profile-secret\n"
M = ["--endpoint-url", "{moto}"]  # moto: any signature passes
S = ["--endpoint-url", "{sig}"]   # SigV4Server: signatures verified


def case(name, args, code, says, env=None, files=None, bucket="{bucket}", mnt="{mnt}"):
    return dict(name=name, args=args, code=code, says=says, env=env or {}, files=files or {},
                bucket=bucket, mnt=mnt)


CASES = [
    # Numbers: a sign on an unsigned option used to wrap into a huge value.
    case("memory target negative", M + ["--memory-target", "-5"], 2,
         ["--memory-target", "must not be negative"]),
    case("memory target zero", M + ["--memory-target", "0"], 2,
         ["--memory-target must be between 64 and"]),
    case("part larger than the memory target", M + ["--memory-target", "64", "--write-part-size",
                                                    "134217728"], 2,
         ["--write-part-size of 128 MiB does not fit in the 48 MiB of data buffers",
          "lower the part size or raise the target"]),
    case("uid negative", M + ["--uid", "-1"], 2, ["--uid", "must not be negative"]),
    case("part size negative", M + ["--part-size", "-8388608"], 2,
         ["--part-size", "must not be negative"]),
    case("write part below S3's minimum", M + ["--write-part-size", "1024"], 2,
         ["--write-part-size must be between 5242880"]),
    case("max threads zero", M + ["--max-threads", "0"], 2, ["--max-threads must be at least 1"]),
    case("throughput infinite", M + ["--maximum-throughput-gbps", "inf"], 2,
         ["--maximum-throughput-gbps must be a positive number"]),
    case("ttl not a number", M + ["--metadata-ttl", "nan"], 2,
         ["--metadata-ttl 'nan' must be seconds, 'indefinite' or 'minimal'"]),
    case("file mode not octal", M + ["--file-mode", "0999"], 2,
         ["--file-mode '0999' is not an octal file mode such as 0644"]),
    case("unknown checksum", M + ["--upload-checksums", "md5"], 2,
         ["--upload-checksums must be 'crc32c' or 'off'"]),
    case("unknown option", M + ["--allow-everything"], 2,
         ["--allow-everything", "see s3mount --help"]),
    # Options that contradict each other.
    case("read-only and allow-delete", M + ["--read-only", "--allow-delete"], 2,
         ["--read-only and --allow-delete contradict each other: drop one"]),
    case("read-only and allow-overwrite", M + ["--allow-overwrite", "--read-only"], 2,
         ["--read-only and --allow-overwrite contradict each other: drop one"]),
    case("part size twice", M + ["--part-size", "8388608", "--read-part-size", "1048576"], 2,
         ["--part-size sets both part sizes: drop it or --read-part-size"]),
    case("unsigned with a profile", M + ["--no-sign-request", "--profile", "good"], 2,
         ["--no-sign-request", "--profile", "drop one"]),
    case("allow-other and allow-root", M + ["--allow-other", "--allow-root"], 2,
         ["--allow-other and --allow-root exclude each other: drop one"]),
    # Mountpoint 1.24's other options (compat_checks.cc).
    case("sse unknown", M + ["--sse", "aws:kms:bad"], 2,
         ["--sse 'aws:kms:bad' must be aws:kms, aws:kms:dsse or AES256"]),
    case("sse key without sse", M + ["--sse-kms-key-id",
                                     "arn:aws:kms:us-east-1:111122223333:key/k"], 2,
         ["--sse-kms-key-id needs --sse aws:kms or --sse aws:kms:dsse"]),
    case("sse key with AES256", M + ["--sse", "AES256", "--sse-kms-key-id",
                                     "arn:aws:kms:us-east-1:111122223333:key/k"], 2,
         ["--sse-kms-key-id cannot be used with --sse AES256"]),
    case("sse key alias", M + ["--sse", "aws:kms", "--sse-kms-key-id", "alias/mine"], 2,
         ["--sse-kms-key-id 'alias/mine' must be a KMS key ARN"]),
    case("bucket owner not an account", M + ["--expected-bucket-owner", "12345"], 2,
         ["--expected-bucket-owner '12345' must be a 12-digit AWS account ID"]),
    case("bucket type unknown", M + ["--bucket-type", "express"], 2,
         ["--bucket-type 'express' must be general-purpose or directory"]),
    case("acceleration with an endpoint", M + ["--transfer-acceleration"], 2,
         ["--transfer-acceleration chooses an AWS endpoint", "--endpoint-url: drop one"]),
    case("dual stack with an endpoint", M + ["--dual-stack"], 2,
         ["--dual-stack chooses an AWS endpoint", "--endpoint-url: drop one"]),
    case("acceleration with path style", ["--transfer-acceleration", "--force-path-style"], 2,
         ["--transfer-acceleration needs virtual-hosted addressing"]),
    case("bind name with a slash", M + ["--bind", "eth0/1"], 2,
         ["--bind 'eth0/1' is not a network interface name"]),
    case("bind interface missing", M + ["--bind", "s3mnosuch0"], 1,
         ["--bind s3mnosuch0: no such network interface"]),
    case("no-log and debug", M + ["--no-log", "--debug"], 2,
         ["--no-log and --debug contradict each other: drop one"]),
    case("no-log and log-metrics", M + ["--log-metrics", "--no-log"], 2,
         ["--no-log and --log-metrics contradict each other: drop one"]),
    case("otlp endpoint not a URL", M + ["--otlp-endpoint", "collector:4318"], 2,
         ["--otlp-endpoint 'collector:4318' is not a URL such as http://HOST:4318"]),
    case("otlp interval without endpoint", M + ["--otlp-export-interval", "5"], 2,
         ["--otlp-export-interval needs --otlp-endpoint"]),
    case("otlp interval zero", M + ["--otlp-endpoint", "http://127.0.0.1:9",
                                    "--otlp-export-interval", "0"], 2,
         ["--otlp-export-interval", "see s3mount --help"]),
    case("fuse fd not open", M, 2, ["/dev/fd/987 is not an open FUSE file descriptor"],
         mnt="/dev/fd/987"),
    case("access point ARN with an endpoint", M, 2,
         ["an access point ARN names its own AWS endpoint"],
         bucket="arn:aws:s3:us-east-1:123456789012:accesspoint/my-ap"),
    # Files and directories that options and variables name.
    case("log directory not writable", M + ["-l", "/proc/nope"], 1,
         ["--log-directory /proc/nope cannot be created", "choose a writable directory"]),
    case("log directory is a file", M + ["-l", "{tmp}/afile"], 1,
         ["--log-directory {tmp}/afile cannot be created", "choose a writable directory"],
         files={"afile": "x"}),
    case("staging directory missing", M + ["--staging-dir", "/nonexistent"], 2,
         ["--staging-dir /nonexistent cannot hold staging files", "choose another"]),
    case("staging size negative", M + ["--max-staging-size", "-1"], 2,
         ["--max-staging-size", "must not be negative"]),
    case("cache directory missing", M + ["--cache", "/nonexistent"], 2,
         ["--cache /nonexistent", "give an existing directory"]),
    case("cache is a file", M + ["--cache", "/etc/hostname"], 2,
         ["--cache /etc/hostname is not a directory"]),
    case("cache size without cache", M + ["--max-cache-size", "100"], 2,
         ["--max-cache-size needs --cache DIR"]),
    case("cache size zero", M + ["--cache", "/tmp", "--max-cache-size", "0"], 2,
         ["--max-cache-size must be at least 1"]),
    case("cache size negative", M + ["--cache", "/tmp", "--max-cache-size", "-5"], 2,
         ["--max-cache-size", "must not be negative"]),
    case("shared cache bucket name invalid", M + ["--cache-xz", "Cache_Bucket"], 2,
         ["'Cache_Bucket' is not a valid bucket name", "check --cache-xz for a typo"]),
    case("shared cache with a prefix", M + ["--cache-xz", "s3://cache-bucket/some/prefix/"], 2,
         ["--cache-xz takes a bucket without a prefix"]),
    case("shared cache is the mounted bucket", M + ["--cache-xz", "{bucket}"], 2,
         ["--cache-xz {bucket} is the mounted bucket", "a bucket of its own"]),
    case("shared cache bucket empty", M + ["--cache-xz", ""], 2,
         ["--cache-xz needs a bucket name"]),
    case("shared cache bucket missing", M + ["--cache-xz", "s3mount-no-such-cache"], 1,
         ["--cache-xz: bucket 's3mount-no-such-cache' does not exist at {moto}"]),
    case("keep pages with keep all", M + ["--keep-read-pages", "--keep-pages-up-to", "5"], 2,
         ["--keep-read-pages keeps every page"]),
    case("CA bundle missing", M + ["--ca-bundle", "/nonexistent"], 2,
         ["--ca-bundle /nonexistent: No such file or directory", "give an existing file"]),
    case("CA bundle not PEM", M + ["--ca-bundle", "{tmp}/ca.pem"], 2,
         ["--ca-bundle {tmp}/ca.pem holds no PEM certificate", "PEM form"],
         files={"ca.pem": "not a certificate\n"}),
    case("AWS_CA_BUNDLE missing", M, 2, ["AWS_CA_BUNDLE /nonexistent/ca.pem: No such file"],
         env={"AWS_CA_BUNDLE": "/nonexistent/ca.pem"}),
    case("credentials file variable missing", M, 2,
         ["AWS_SHARED_CREDENTIALS_FILE {tmp}/typo: No such file", "give an existing file"],
         env={"AWS_SHARED_CREDENTIALS_FILE": "{tmp}/typo"}),
    # Endpoints and environment variables.
    case("endpoint without scheme", ["--endpoint-url", "127.0.0.1:9000"], 2,
         ["--endpoint-url '127.0.0.1:9000' is not a URL such as http://HOST[:PORT]"]),
    case("endpoint port out of range", ["--endpoint-url", "http://127.0.0.1:99999"], 2,
         ["--endpoint-url 'http://127.0.0.1:99999' is not a URL"]),
    case("endpoint variable bad", [], 2, ["AWS_ENDPOINT_URL 'ftp://example.com' is not a URL"],
         env={"AWS_ENDPOINT_URL": "ftp://example.com"}),
    case("endpoint unreachable", ["--endpoint-url", "{closed}"], 1,
         ["cannot reach the S3 endpoint {closed}", "check --endpoint-url"]),
    case("region with a space", M + ["--region", "us east 1"], 2,
         ["--region 'us east 1' is not a region name such as us-east-1"]),
    case("AWS_MAX_ATTEMPTS not a number", M, 2,
         ["AWS_MAX_ATTEMPTS 'lots' must be a whole number of attempts, at least 1"],
         env={"AWS_MAX_ATTEMPTS": "lots"}),
    # Bucket names, checked before any request.
    case("bucket name with a typo", M, 2,
         ["'Bad_Bucket..Name' is not a valid bucket name", "check BUCKET for a typo"],
         bucket="Bad_Bucket..Name"),
    case("bucket URL with two periods", M, 2, ["'my..bucket' is not a valid bucket name"],
         bucket="s3://my..bucket/data/"),
    case("access point ARN malformed", M, 2,
         ["is not a valid access point ARN", "the account '12345' is not 12 digits"],
         bucket="arn:aws:s3:us-east-1:12345:accesspoint/ap"),
    case("bucket that does not exist", M, 1, ["bucket 'nosuchbucket42' does not exist at"],
         bucket="nosuchbucket42"),
    # Mount points.
    case("mount directory missing", M, 1, ["mount directory {tmp}/absent does not exist",
                                           "mkdir -p {tmp}/absent"], mnt="{tmp}/absent"),
    case("mount point is a file", M, 1, ["mount point {tmp}/afile is not a directory"],
         files={"afile": "x"}, mnt="{tmp}/afile"),
    case("mount directory empty", M, 2, ["the mount DIRECTORY is empty"], mnt=""),
    # Credentials, against the server that verifies signatures.
    case("named profile missing, keys in the environment", S + ["--profile", "nosuchprofile"],
         1, ['AWS profile "nosuchprofile" not found in {home}/.aws/credentials',
             "choose another with --profile"], env=ENV_KEYS, files={"home/.aws/credentials":
                                                                    GOOD_PROFILE}),
    case("credentials file header unclosed", S, 1,
         ['profile "default" in {home}/.aws/credentials', "no AWS credentials found",
          "set AWS_ACCESS_KEY_ID"],
         files={"home/.aws/credentials": "[default\naws_access_key_id = AKIDX\n"
                                         "aws_secret_access_key = s\n"}),
    case("credentials file without '='", S + ["--profile", "good"], 1,
         ['profile "good" in {home}/.aws/credentials', "(no aws_access_key_id)"],
         files={"home/.aws/credentials": "[good]\naws_access_key_id AKIDPROFILEGOOD\n"}),
    case("credentials file with half a key", S + ["--profile", "good"], 1,
         ["has only one of aws_access_key_id and aws_secret_access_key"],
         files={"home/.aws/credentials": "[good]\naws_access_key_id = AKIDPROFILEGOOD\n"}),
    case("profile through credential_process", S + ["--profile", "good"], 1,
         ["credential_process, which s3mount does not support",
          "aws configure export-credentials"],
         files={"home/.aws/config": "[profile good]\ncredential_process = /bin/true\n"}),
    case("no credentials anywhere", S, 1,
         ["no AWS credentials found", "--no-sign-request for a public bucket"]),
    case("secret key wrong", S, 1, ["SignatureDoesNotMatch", "check the credentials",
                                    "with environment AKID****GOOD"],
         env={"AWS_ACCESS_KEY_ID": "AKIDPROFILEGOOD", "AWS_SECRET_ACCESS_KEY": "wrong"}),
    case("access key unknown", S, 1, ["InvalidAccessKeyId", "check the credentials",
                                      "with environment AKID****MENT"],
         env=ENV_KEYS),
]


def mounts_under(root):
    """Mounts at or below `root` (other engineers' mounts elsewhere do not count)."""
    root = os.path.realpath(root)
    with open("/proc/self/mountinfo") as f:
        points = [line.split()[4] for line in f]
    return sum(p == root or p.startswith(root + "/") for p in points)


class BadInputTest(MountTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.bucket = cls.moto.bucket()
        cls.sig = SigV4Server(PROFILE_KEYS).__enter__()
        cls.closed = f"http://127.0.0.1:{free_port()}"  # bound, then closed: nobody listens

    @classmethod
    def tearDownClass(cls):
        cls.sig.__exit__(None, None, None)

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="s3mount-bad-")
        self.addCleanup(shutil.rmtree, self.tmp, ignore_errors=True)
        os.makedirs(os.path.join(self.tmp, "home", ".aws"))
        os.makedirs(os.path.join(self.tmp, "mnt"))

    def fill(self, text):
        return (text.replace("{moto}", self.moto.endpoint).replace("{sig}", self.sig.endpoint)
                .replace("{closed}", self.closed).replace("{bucket}", self.bucket)
                .replace("{home}", os.path.join(self.tmp, "home"))
                .replace("{mnt}", os.path.join(self.tmp, "mnt")).replace("{tmp}", self.tmp))

    def run_case(self, args, bucket, mnt, env_extra):
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        env.update(HOME=os.path.join(self.tmp, "home"), AWS_EC2_METADATA_DISABLED="true",
                   AWS_REGION="us-east-1", AWS_ACCESS_KEY_ID="testing",
                   AWS_SECRET_ACCESS_KEY="testing")
        for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
            if any(a == "{sig}" for a in args):  # the verifying server: only what the case gives
                env.pop(key)
        env.update({k: self.fill(v) for k, v in env_extra.items()})
        argv = [S3MOUNT] + [self.fill(a) for a in args] + [self.fill(bucket), self.fill(mnt)]
        return subprocess.run(argv, env=env, capture_output=True, text=True, timeout=30)

    def assert_nothing_left(self, mnt, mounts_before):
        if not mnt:  # no directory to look for: only the count of mounts tells
            self.assertEqual(mounts_under(self.tmp), mounts_before, "a mount was left behind")
            return
        deadline = time.time() + 5
        while daemon_pid(mnt) is not None and time.time() < deadline:
            time.sleep(0.05)
        left = is_mounted(mnt)
        if left:  # so that one failure does not cascade into the next cases
            subprocess.run(["fusermount3", "-u", mnt])
        self.assertFalse(left, "a mount was left behind")
        self.assertIsNone(daemon_pid(mnt), "a daemon is still running")
        self.assertEqual(mounts_under(self.tmp), mounts_before, "a mount was left behind")

    def check_case(self, c):
        mounts_before = mounts_under(self.tmp)
        started = time.time()
        r = self.run_case(c["args"], c["bucket"], c["mnt"], c["env"])
        self.assert_nothing_left(self.fill(c["mnt"]), mounts_before)
        self.assertEqual(r.returncode, c["code"], r.stderr)
        self.assertEqual(r.stdout, "")
        self.assertTrue(r.stderr.startswith("s3mount: "), r.stderr)
        self.assertEqual(r.stderr.count("\n"), 1, f"not one line: {r.stderr!r}")
        self.assertTrue(r.stderr.endswith("\n"))
        for text in c["says"]:
            self.assertIn(self.fill(text), r.stderr)
        self.assertLess(time.time() - started, 10, "not at once")

    def test_each_bad_input_fails_at_once_in_one_line(self):
        self.assertGreaterEqual(len(CASES), 30)
        for c in CASES:
            with self.subTest(c["name"]):
                paths = [os.path.join(self.tmp, rel) for rel in c["files"]]
                for path, text in zip(paths, c["files"].values()):
                    with open(path, "w") as f:
                        f.write(text)
                try:
                    self.check_case(c)
                finally:
                    for path in paths:
                        os.remove(path)

    def test_named_profile_is_the_only_source(self):
        # Environment keys are set, and valid on the server; the profile's must be used.
        with open(os.path.join(self.tmp, "home", ".aws", "credentials"), "w") as f:
            f.write(GOOD_PROFILE)
        self.sig.httpd.keys["AKIDENVIRONMENT"] = "env-secret"
        self.addCleanup(self.sig.httpd.keys.pop, "AKIDENVIRONMENT")
        seen = len(self.sig.requests)
        mnt = os.path.join(self.tmp, "mnt")
        r = self.run_case(S + ["--profile", "good"], "b12", mnt, ENV_KEYS)
        self.assertEqual(r.returncode, 0, r.stderr)
        try:
            self.assertTrue(is_mounted(mnt))
            self.assertEqual(set(self.sig.requests[seen:]), {("AKIDPROFILEGOOD", "ok")})
        finally:
            subprocess.run(["fusermount3", "-u", mnt], check=True)

    def test_good_paths_pass_the_checks_relative_ones_too(self):
        # The daemon moves to "/" when it detaches: relative paths must be resolved before.
        bundle = "/etc/ssl/certs/ca-certificates.crt"
        shutil.copy(bundle, os.path.join(self.tmp, "ca.pem"))
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        env.update(HOME=os.path.join(self.tmp, "home"), AWS_EC2_METADATA_DISABLED="true",
                   AWS_REGION="us-east-1", AWS_ACCESS_KEY_ID="testing",
                   AWS_SECRET_ACCESS_KEY="testing")
        # A name that does not exist under "/": resolved there, the mount fails (and never
        # covers a directory of the machine).
        name = os.path.basename(self.tmp) + "-mnt"
        mnt = os.path.join(self.tmp, name)
        os.mkdir(mnt)
        r = subprocess.run([S3MOUNT, "--endpoint-url", self.moto.endpoint, "--ca-bundle", "ca.pem",
                            "-l", "logs", "--memory-target", "64", self.bucket, name],
                           env=env, cwd=self.tmp, capture_output=True, text=True, timeout=30)
        self.assertEqual(r.returncode, 0, r.stderr)
        try:
            self.assertTrue(is_mounted(mnt))
            self.assertEqual(len(os.listdir(os.path.join(self.tmp, "logs"))), 1)
        finally:
            subprocess.run(["fusermount3", "-u", mnt], check=True)

    def test_failure_after_detaching_is_also_logged(self):
        log_dir = os.path.join(self.tmp, "logs")
        r = self.run_case(S + ["--profile", "nosuchprofile", "-l", log_dir], "b12",
                          os.path.join(self.tmp, "mnt"), ENV_KEYS)
        self.assertEqual(r.returncode, 1, r.stderr)
        message = r.stderr[len("s3mount: "):].strip()
        logs = ""
        for name in os.listdir(log_dir):
            with open(os.path.join(log_dir, name)) as f:
                logs += f.read()
        self.assertIn(message, logs)

    def test_already_mounted_directory_is_refused_and_kept(self):
        with Mount(self.moto, self.bucket, log=False) as m:
            before = mounts_under(m.dir)
            r = self.run_case(M, self.bucket, m.dir, {})
            self.assertEqual(r.returncode, 1, r.stderr)
            self.assertEqual(r.stderr.count("\n"), 1, r.stderr)
            self.assertIn("is already mounted: unmount it first", r.stderr)
            self.assertEqual(mounts_under(m.dir), before)
            self.assertTrue(is_mounted(m.dir))


if __name__ == "__main__":
    unittest.main()
