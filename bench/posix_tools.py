"""posix_tools.py: the POSIX tools matrix (run by bench/posix_tools.sh, which starts the server).

For each client (s3mount with --allow-delete --allow-overwrite, the same with --posix, s3fs,
rclone mount with --vfs-cache-mode off and writes) and each tool of posix_tools_cases.py:
a fresh mount, the tool (timed, wall clock), an unmount, a second mount, and checks through
that mount and straight in S3 (boto3). Results:
  pass       the tool succeeded and everything checked holds after the remount;
  data only  the tool succeeded and the bytes are right, but a mode, mtime or symlink
             target was not kept (the detail says which);
  fail       the tool failed, or the bytes after the remount are wrong;
  n/a        the client could not mount (e.g. an option this build does not have).
Environment: S3_ENDPOINT, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, SERVER (its name, for the
report). Usage: posix_tools.py --s3mount PATH --work DIR --results DIR [--clients a,b]
[--tools "tar -x,cp -a"].
"""
import argparse
import csv
import datetime
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

import boto3
from botocore.config import Config

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from posix_tools_cases import CASES  # noqa: E402

CLIENTS = ["s3mount", "s3mount-posix", "s3fs", "rclone-off", "rclone-writes"]
TOOL_TIMEOUT_S = 120
# rclone --vfs-cache-mode writes uploads a closed file after --vfs-write-back (5 s by
# default) and its unmount does not wait: before remounting, wait for S3 to be quiet.
RCLONE_WRITE_BACK_S = 5
SETTLE_QUIET_S = 2
SETTLE_MAX_S = 60


def differ(got, want):
    """How `got` differs from `want`, in a few words."""
    if len(got) != len(want):
        return f"{len(got)} bytes, not the {len(want)} expected"
    first = next(i for i in range(len(got)) if got[i] != want[i])
    return f"the expected {len(want)} bytes but not their content (from byte {first})"


class Failure(Exception):
    """The tool failed or the data read back is wrong."""


class MetaLost(Exception):
    """The data is right but a mode, mtime or symlink was not kept."""


def log(msg):
    print(f"posix_tools: {msg}", file=sys.stderr, flush=True)


def is_mounted(path):
    with open("/proc/self/mountinfo") as f:
        return any(line.split()[4] == path for line in f)


def pids_with_arg(arg):
    pids = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                if arg.encode() in f.read().split(b"\0"):
                    pids.append(int(pid))
        except OSError:
            pass
    return pids


class Client:
    """Mounts and unmounts one client on one bucket."""

    def __init__(self, name, args, endpoint, key, secret, work):
        self.name, self.args, self.endpoint = name, args, endpoint
        self.key, self.secret, self.work = key, secret, work
        self.mnt = os.path.join(work, "mnt", name)
        self.logs = os.path.join(work, "logs", name)
        os.makedirs(self.mnt, exist_ok=True)
        os.makedirs(self.logs, exist_ok=True)

    def command(self, bucket):
        env = dict(os.environ, AWS_ACCESS_KEY_ID=self.key, AWS_SECRET_ACCESS_KEY=self.secret)
        if self.name.startswith("s3mount"):
            cmd = [self.args.s3mount, "--endpoint-url", self.endpoint, "--force-path-style",
                   "--allow-delete", "--allow-overwrite", "-l", self.logs]
            if self.name == "s3mount-posix":
                cmd.append("--posix")
            return cmd + [bucket, self.mnt], env
        if self.name == "s3fs":
            pw = os.path.join(self.work, "s3fs.passwd")
            with open(pw, "w") as f:
                f.write(f"{self.key}:{self.secret}\n")
            os.chmod(pw, 0o600)
            opts = [f"url={self.endpoint}", "use_path_request_style", f"passwd_file={pw}",
                    f"logfile={self.logs}/s3fs.log", "dbglevel=warn"]
            return ["s3fs", bucket, self.mnt, "-o", ",".join(opts)], env
        mode = self.name.split("-")[1]
        env.pop("AWS_CA_BUNDLE", None)  # rclone refuses to start with it set
        env.update(RCLONE_CONFIG_B_TYPE="s3", RCLONE_CONFIG_B_PROVIDER="Ceph",
                   RCLONE_CONFIG_B_ENDPOINT=self.endpoint, RCLONE_CONFIG_B_ACCESS_KEY_ID=self.key,
                   RCLONE_CONFIG_B_SECRET_ACCESS_KEY=self.secret,
                   RCLONE_CONFIG_B_FORCE_PATH_STYLE="true")
        cache = os.path.join(self.work, "rclone-cache")
        shutil.rmtree(cache, ignore_errors=True)
        return ["rclone", "mount", f"b:{bucket}", self.mnt, "--daemon", "--vfs-cache-mode", mode,
                "--cache-dir", cache, "--log-file", f"{self.logs}/rclone.log"], env

    def options_text(self):
        cmd, _ = self.command("BUCKET")
        cmd[0] = os.path.basename(cmd[0])  # the build directory is this machine's
        text = " ".join(cmd).replace(self.mnt, "DIR").replace(self.endpoint, "ENDPOINT")
        return re.sub(r"(-l|--cache-dir|--log-file) \S+|,?(logfile|passwd_file)=[^, ]+", "",
                      text).replace("  ", " ").strip()

    def mount(self, bucket):
        cmd, env = self.command(bucket)
        err_path = os.path.join(self.logs, "mount.err")
        # stderr to a file, not a pipe: a daemon that keeps the pipe open would block the read.
        with open(os.path.join(self.logs, "mount.log"), "a") as lf, open(err_path, "w") as ef:
            lf.write("$ " + " ".join(cmd) + "\n")
            lf.flush()
            try:
                r = subprocess.run(cmd, env=env, stdout=lf, stderr=ef, timeout=60)
                code = r.returncode
            except subprocess.TimeoutExpired:
                code = "timeout"
        with open(err_path) as ef:
            err = ef.read()
        with open(os.path.join(self.logs, "mount.log"), "a") as lf:
            lf.write(err)
        for _ in range(100):
            if is_mounted(self.mnt):
                break
            time.sleep(0.1)
        self.pids = []
        for _ in range(50):
            self.pids = pids_with_arg(self.mnt)
            if self.pids:
                break
            time.sleep(0.1)
        if code != 0 or not is_mounted(self.mnt):
            self.unmount()
            reason = (err.strip().splitlines() or [f"exit {code}"])[-1]
            raise Failure(f"mount failed: {reason}")

    def unmount(self):
        for cmd in (["fusermount3", "-u", self.mnt], ["umount", "-l", self.mnt]):
            for _ in range(50):
                if not is_mounted(self.mnt):
                    break
                subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                time.sleep(0.2)
        deadline = time.time() + 60
        for pid in self.pids:
            while time.time() < deadline and os.path.exists(f"/proc/{pid}"):
                time.sleep(0.1)


class Ctx:
    """What a case sees: its directory in the mount, a local scratch directory, S3."""

    def __init__(self, client, s3, bucket, slug, scratch):
        self.client, self.s3, self.bucket = client, s3, bucket
        self.prefix, self.slug, self.scratch = slug + "/", slug, scratch
        # git needs an identity and must not read the machine's configuration.
        self.env = dict(os.environ, HOME=scratch, GIT_CONFIG_NOSYSTEM="1", GIT_AUTHOR_NAME="b",
                        GIT_AUTHOR_EMAIL="b@example.com", GIT_COMMITTER_NAME="b",
                        GIT_COMMITTER_EMAIL="b@example.com")

    def path(self, *parts):
        return os.path.join(self.client.mnt, self.slug, *parts)

    def local(self, name):
        return os.path.join(self.scratch, name)

    def put(self, rel, data):
        self.s3.put_object(Bucket=self.bucket, Key=self.prefix + rel, Body=data)

    def fail(self, msg):
        raise Failure(msg)

    def run(self, cmd):
        try:
            r = subprocess.run(cmd, capture_output=True, text=True, timeout=TOOL_TIMEOUT_S,
                               cwd=self.scratch, env=self.env)
        except subprocess.TimeoutExpired:
            raise Failure(f"{cmd[0]} did not finish in {TOOL_TIMEOUT_S} s") from None
        if r.returncode != 0:
            lines = r.stderr.strip().splitlines() or [f"exit {r.returncode}"]
            line = lines[-1] if lines[0].startswith("Traceback") else lines[0]
            raise Failure(f"{os.path.basename(cmd[0])} {cmd[1] if len(cmd) > 1 else ''}: "
                          f"{line}".replace(self.client.mnt + "/", ""))
        return r.stdout

    def local_files(self, root):
        out = {}
        for dirpath, _, names in os.walk(root):
            for name in names:
                path = os.path.join(dirpath, name)
                with open(path, "rb") as f:
                    out[os.path.relpath(path, root)] = f.read()
        return out

    def s3_keys(self, prefix):
        keys = []
        for page in self.s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket,
                                                                      Prefix=prefix):
            keys += [o["Key"] for o in page.get("Contents", []) if not o["Key"].endswith("/")]
        return keys

    def expect_object(self, rel, data):
        try:
            got = self.s3.get_object(Bucket=self.bucket, Key=self.prefix + rel)["Body"].read()
        except self.s3.exceptions.NoSuchKey:
            raise Failure(f"S3: no object {rel}") from None
        if got != data:
            raise Failure(f"S3: {rel} holds {differ(got, data)}")

    def expect_files(self, files, under="", links=None):
        """The regular files under `under` are exactly `files`, through the mount and in S3
        (where the symlinks in `links` may also have objects, in the client's own format)."""
        root = self.path(under)
        seen = {}
        if not os.path.isdir(root):
            raise Failure(f"mount: no directory {under or '.'} after the remount")
        for dirpath, _, names in os.walk(root):
            for name in names:
                path = os.path.join(dirpath, name)
                if not os.path.islink(path):
                    with open(path, "rb") as f:
                        seen[os.path.relpath(path, root)] = f.read()
        if sorted(seen) != sorted(files):
            extra, missing = sorted(set(seen) - set(files)), sorted(set(files) - set(seen))
            raise Failure(f"mount: files {missing} missing, {extra} unexpected")
        for rel, data in files.items():
            if seen[rel] != data:
                raise Failure(f"mount: {rel} reads {differ(seen[rel], data)}")
        sub = os.path.join(under, "") if under else ""
        allowed = {sub + r for r in files} | {sub + r for r in (links or {})}
        extra = sorted(k[len(self.prefix):] for k in self.s3_keys(self.prefix + sub)
                       if k[len(self.prefix):] not in allowed)
        if extra:
            raise Failure(f"S3: unexpected objects {extra[:3]}")
        for rel, data in files.items():
            self.expect_object(sub + rel, data)

    def expect_links(self, links, under=""):
        for rel, target in links.items():
            path = self.path(under, rel)
            if not os.path.islink(path):
                raise Failure(f"mount: {rel} is not a symlink after the remount")
            if os.readlink(path) != target:
                raise Failure(f"mount: {rel} points to {os.readlink(path)}, not {target}")

    def expect_modes(self, modes, under=""):
        for rel, mode in modes.items():
            got = os.lstat(self.path(under, rel)).st_mode & 0o7777
            if got != mode:
                raise MetaLost(f"mode of {rel}: {got:o}, not {mode:o}")

    def expect_mtimes(self, rels, mtime, under="", local=None):
        for rel in rels:
            want = int(os.stat(os.path.join(local, rel)).st_mtime) if local else mtime
            got = int(os.stat(self.path(under, rel)).st_mtime)
            if got != want:
                raise MetaLost(f"mtime of {rel}: {got}, not {want}")


def settle(ctx):
    """Waits until rclone --vfs-cache-mode writes has uploaded what the tool wrote."""
    t0 = time.time()
    last, quiet_since = None, time.time()
    while time.time() - t0 < SETTLE_MAX_S:
        page = ctx.s3.list_objects_v2(Bucket=ctx.bucket, Prefix=ctx.prefix)
        state = sorted((o["Key"], o["ETag"], o["Size"]) for o in page.get("Contents", []))
        if state != last:
            last, quiet_since = state, time.time()
        elif time.time() - t0 > RCLONE_WRITE_BACK_S + 1 and \
                time.time() - quiet_since >= SETTLE_QUIET_S:
            return
        time.sleep(0.5)


def run_case(client, s3, bucket, tool, case):
    """Returns (result, seconds or None, detail)."""
    slug = re.sub(r"[^a-z0-9]+", "-", tool.lower()).strip("-")
    scratch = tempfile.mkdtemp(prefix="posix-tools-")
    ctx = Ctx(client, s3, bucket, slug, scratch)
    steps = case(ctx)
    seconds = None
    try:
        next(steps)  # prepare
        client.mount(bucket)
        try:
            os.makedirs(ctx.path(), exist_ok=True)
            t0 = time.monotonic()
            try:
                next(steps)  # the tool
            finally:
                seconds = time.monotonic() - t0
            if client.name == "rclone-writes":
                settle(ctx)
        finally:
            client.unmount()
        client.mount(bucket)
        try:
            next(steps, None)  # the checks
        finally:
            client.unmount()
        return "pass", seconds, ""
    except MetaLost as e:
        return "data only", seconds, str(e)
    except Failure as e:
        return "fail", seconds, str(e)
    except Exception as e:  # noqa: BLE001 - one broken case must not stop the matrix
        return "fail", seconds, f"{type(e).__name__}: {e}".replace(client.mnt + "/", "")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def versions():
    def first_line(cmd):
        try:
            return subprocess.run(cmd, capture_output=True, text=True).stdout.splitlines()[0]
        except (OSError, IndexError):
            return "?"
    return {"s3fs": first_line(["s3fs", "--version"]), "rclone": first_line(["rclone", "version"])}


def write_results(args, clients, tools, results, started, elapsed):
    os.makedirs(args.results, exist_ok=True)
    with open(os.path.join(args.results, "posix-tools.csv"), "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["client", "tool", "result", "seconds", "detail"])
        for (client, tool), (res, sec, detail) in results.items():
            w.writerow([client, tool, res, "" if sec is None else f"{sec:.3f}", detail])
    ver = versions()
    lines = [
        "# POSIX tools on each client",
        "",
        f"Run {started:%Y-%m-%d %H:%M} UTC by `bench/posix_tools.sh` in {elapsed:.0f} s against "
        f"{os.environ.get('SERVER', 'an S3 server')} on loopback; s3mount at "
        f"{args.revision or 'this tree'}; {ver['s3fs']}; {ver['rclone']}.",
        "",
        "Each cell: a fresh mount, the tool (its wall time), unmount, mount again, then the "
        "result read back through the mount and straight from S3 (boto3). **pass**: the tool "
        "succeeded and everything checked holds; **data only**: the bytes are right but a "
        "mode, mtime or symlink was not kept; **fail**: the tool failed or the bytes are "
        "wrong; **n/a**: the client could not mount. rclone-writes is given time to upload "
        "before the remount (not counted). Details below the table.",
        "",
        "| tool | " + " | ".join(c.name for c in clients) + " |",
        "|---|" + "---|" * len(clients),
    ]
    for tool in tools:
        cells = []
        for c in clients:
            res, sec, _ = results[(c.name, tool)]
            cells.append(res if sec is None else f"{res} {sec:.2f} s")
        lines.append(f"| {tool} | " + " | ".join(cells) + " |")
    lines += ["", "Mount commands (ENDPOINT, BUCKET, DIR; logs and credentials files left out):", ""]
    lines += [f"- {c.name}: `{c.options_text()}`" for c in clients]
    if any(c.name.startswith("rclone") for c in clients):
        lines += ["", "rclone's remote `b` (RCLONE_CONFIG_B_* variables): type s3, provider Ceph, "
                  "endpoint ENDPOINT, force_path_style true."]
    lines += ["", "## Details", ""]
    for (client, tool), (res, _, detail) in results.items():
        if detail:
            lines.append(f"- {client}, `{tool}` ({res}): {detail}")
    with open(os.path.join(args.results, "posix-tools.md"), "w") as f:
        f.write("\n".join(lines) + "\n")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--s3mount", required=True)
    p.add_argument("--work", required=True)
    p.add_argument("--results", required=True)
    p.add_argument("--clients", default=",".join(CLIENTS))
    p.add_argument("--tools", default=",".join(CASES))
    p.add_argument("--revision", default="")
    args = p.parse_args()
    endpoint = os.environ["S3_ENDPOINT"]
    key, secret = os.environ["AWS_ACCESS_KEY_ID"], os.environ["AWS_SECRET_ACCESS_KEY"]
    s3 = boto3.client("s3", endpoint_url=endpoint, aws_access_key_id=key,
                      aws_secret_access_key=secret, region_name="us-east-1",
                      config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 3}))
    tools = [t for t in args.tools.split(",") if t]
    for t in tools:
        if t not in CASES:
            raise SystemExit(f"unknown tool {t!r}; tools: {', '.join(CASES)}")
    clients = [Client(n, args, endpoint, key, secret, args.work) for n in args.clients.split(",")]
    started, t0 = datetime.datetime.now(datetime.timezone.utc), time.time()
    results = {}
    for client in clients:
        bucket = f"posix-{client.name}-{int(time.time())}"
        s3.create_bucket(Bucket=bucket)
        mount_error = None
        for tool in tools:
            if mount_error:
                results[(client.name, tool)] = ("n/a", None, "")
                continue
            res = run_case(client, s3, bucket, tool, CASES[tool])
            if res[0] == "fail" and res[2].startswith("mount failed") and res[1] is None:
                mount_error = res[2]
                res = ("n/a", None, res[2])
            results[(client.name, tool)] = res
            log(f"{client.name:14} {tool:22} {res[0]:9} "
                f"{'' if res[1] is None else f'{res[1]:.2f} s'} {res[2]}")
    write_results(args, clients, tools, results, started, time.time() - t0)


if __name__ == "__main__":
    main()
