"""Everyday POSIX tools through a real mount, one test per tool: tar, cp -a, rsync, git,
sed -i, shell and Python appends, dd conv=notrunc, truncate, mv, mkdir/rmdir and touch -d.

Every test checks its result twice: through the mount (often after a remount, so nothing
comes from this mount's memory) and directly in S3 with boto3. A test of a feature that
is not built yet is skipped with the name of that feature; un-skip it when it lands.
Objects stay small: moto copies the whole object for each ranged GET.
"""
import errno
import os
import shutil
import stat
import subprocess
import tarfile
import tempfile
import unittest

from harness import Mount, MountTestCase, data, read_bytes

# What the tests mount with: changing and removing files is what these tools do.
RW = ["--allow-delete", "--allow-overwrite"]
POSIX = RW + ["--posix"]


# 2020-01-01 00:00:01 UTC: an mtime no test run could produce by itself.
OLD_MTIME = 1577836801

# The tree the archive and copy tests carry: path -> (mode, bytes). Sizes stay small.
TREE = {
    "bin/tool": (0o755, b"#!/bin/sh\necho tool\n"),
    "etc/app.conf": (0o640, b"key = value\n"),
    "doc/readme.txt": (0o644, data(3000, seed=11)),
    "doc/deep/er/notes": (0o600, data(70000, seed=12)),
    "empty-file": (0o644, b""),
}
# Symbolic links of the tree: path -> target.
LINKS = {"bin/link": "tool", "latest": "doc/readme.txt"}


def run(cmd, **kwargs):
    return subprocess.run(cmd, capture_output=True, text=True, **kwargs)


def make_tree(root, links=True):
    """Writes TREE (and LINKS) under `root` with their modes and OLD_MTIME."""
    for rel, (mode, body) in TREE.items():
        path = os.path.join(root, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(body)
        os.chmod(path, mode)
        os.utime(path, (OLD_MTIME, OLD_MTIME))
    for rel, target in (LINKS.items() if links else ()):
        os.symlink(target, os.path.join(root, rel))


def git_env(home):
    env = dict(os.environ)
    env.update({"HOME": home, "GIT_CONFIG_NOSYSTEM": "1", "GIT_AUTHOR_NAME": "t",
                "GIT_AUTHOR_EMAIL": "t@example.com", "GIT_COMMITTER_NAME": "t",
                "GIT_COMMITTER_EMAIL": "t@example.com"})
    return env


class PosixToolsTest(MountTestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="s3mount-posix-")

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    # ---- reading back ----

    def s3_keys(self, bucket, prefix=""):
        keys = []
        for page in self.moto.s3.get_paginator("list_objects_v2").paginate(Bucket=bucket,
                                                                           Prefix=prefix):
            keys += [o["Key"] for o in page.get("Contents", [])]
        return keys

    def s3_meta(self, bucket, key):
        return self.moto.s3.head_object(Bucket=bucket, Key=key)["Metadata"]

    def assert_files(self, bucket, root, files, prefix="", links=None):
        """`files` (rel -> bytes) and `links` (rel -> target) are exactly the regular files
        and symlinks under `root` in the mount and the objects under `prefix` in S3
        (directory markers aside); a symlink's object holds its target."""
        links = links or {}
        seen, seen_links = {}, {}
        for dirpath, _, names in os.walk(root):
            for name in names:
                path = os.path.join(dirpath, name)
                rel = os.path.relpath(path, root)
                if os.path.islink(path):
                    seen_links[rel] = os.readlink(path)
                else:
                    seen[rel] = read_bytes(path)
        self.assertEqual(sorted(seen), sorted(files), "files in the mount")
        self.assertEqual(seen_links, links, "symlinks in the mount")
        for rel, body in files.items():
            self.assertEqual(seen[rel], body, f"{rel} read through the mount")
        keys = [k for k in self.s3_keys(bucket, prefix) if not k.endswith("/")]
        self.assertEqual(sorted(keys), sorted(prefix + rel for rel in files | links),
                         "objects in S3")
        for rel, body in files.items():
            self.assertEqual(self.moto.get(bucket, prefix + rel), body, f"{rel} in S3")
        for rel, target in links.items():
            self.assertEqual(self.moto.get(bucket, prefix + rel), target.encode(), f"{rel} in S3")

    def assert_posix_tree(self, bucket, root, prefix, owner=None):
        """TREE's modes, mtimes (and owner: (uid, gid)) and LINKS, through the mount and in
        the metadata."""
        for rel, (mode, _) in TREE.items():
            st = os.lstat(os.path.join(root, rel))
            if owner:
                self.assertEqual((st.st_uid, st.st_gid), owner, rel)
                meta = self.s3_meta(bucket, prefix + rel)
                self.assertEqual((int(meta["uid"]), int(meta["gid"])), owner, rel)
            self.assertEqual(stat.S_IMODE(st.st_mode), mode, rel)
            self.assertEqual(int(st.st_mtime), OLD_MTIME, rel)
            meta = self.s3_meta(bucket, prefix + rel)
            self.assertEqual(stat.S_IMODE(int(meta["mode"])), mode, rel)
            self.assertIn(stat.S_IFMT(int(meta["mode"])), (0, stat.S_IFREG), rel)
            self.assertEqual(int(float(meta["mtime"])), OLD_MTIME, rel)
        for rel in LINKS:
            self.assertTrue(stat.S_ISLNK(int(self.s3_meta(bucket, prefix + rel)["mode"])), rel)

    # ---- tar ----

    def make_tarball(self, links, owner=None):
        """A tarball of TREE (and LINKS); `owner` (uid, gid) is recorded by number only."""
        src = os.path.join(self.tmp, "src")
        make_tree(src, links=links)

        def chown(info):
            if owner:
                info.uid, info.gid = owner
                info.uname = info.gname = ""
            return info

        tarball = os.path.join(self.tmp, "tree.tar")
        with tarfile.open(tarball, "w") as tar:
            for name in sorted(os.listdir(src)):
                tar.add(os.path.join(src, name), arcname=name, filter=chown)
        return tarball

    def test_tar_extract_without_posix_refuses_only_the_symlinks(self):
        bucket = self.new_bucket()
        tarball = self.make_tarball(links=True)
        files = {rel: body for rel, (_, body) in TREE.items()}
        with Mount(self.moto, bucket, RW) as m:
            r = run(["tar", "-xf", tarball, "-C", m.dir])
            self.assertNotEqual(r.returncode, 0, "tar must report the symlinks it could not make")
            errors = [ln for ln in r.stderr.splitlines() if "Exiting with failure" not in ln]
            self.assertEqual(len(errors), len(LINKS), r.stderr)
            for rel in LINKS:
                self.assertTrue(any(rel in ln and "Cannot create symlink" in ln for ln in errors),
                                r.stderr)
                self.assertFalse(os.path.lexists(m.path(rel)))
            self.assert_files(bucket, m.dir, files)
        with Mount(self.moto, bucket, RW) as m:
            self.assert_files(bucket, m.dir, files)

    def test_tar_extract_with_posix_keeps_modes_times_and_symlinks(self):
        bucket = self.new_bucket()
        # As root, tar -x gives each file the owner the archive names (--same-owner).
        owner = (1000, 1001) if os.geteuid() == 0 else None
        tarball = self.make_tarball(links=True, owner=owner)
        with Mount(self.moto, bucket, POSIX) as m:
            r = run(["tar", "-xpf", tarball, "-C", m.dir])
            self.assertEqual(r.returncode, 0, r.stderr)
        with Mount(self.moto, bucket, POSIX) as m:
            self.assert_files(bucket, m.dir, {rel: body for rel, (_, body) in TREE.items()},
                              links=LINKS)
            self.assert_posix_tree(bucket, m.dir, "", owner)
            self.assertEqual(run([m.path("bin/tool")]).stdout, "tool\n")

    # ---- cp -a ----

    def test_cp_a_copies_a_local_tree(self):
        bucket = self.new_bucket()
        src = os.path.join(self.tmp, "src")
        make_tree(src, links=False)
        files = {rel: body for rel, (_, body) in TREE.items()}
        with Mount(self.moto, bucket, RW) as m:
            r = run(["cp", "-a", src + "/.", m.path("copy")])
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assert_files(bucket, m.path("copy"), files, "copy/")
        with Mount(self.moto, bucket, RW) as m:
            self.assert_files(bucket, m.path("copy"), files, "copy/")
            self.assertEqual(run(["diff", "-r", src, m.path("copy")]).returncode, 0)

    def test_cp_a_with_posix_keeps_modes_times_and_symlinks(self):
        bucket = self.new_bucket()
        src = os.path.join(self.tmp, "src")
        make_tree(src, links=True)
        with Mount(self.moto, bucket, POSIX) as m:
            r = run(["cp", "-a", src + "/.", m.path("copy")])
            self.assertEqual(r.returncode, 0, r.stderr)
        with Mount(self.moto, bucket, POSIX) as m:
            self.assert_files(bucket, m.path("copy"), {rel: b for rel, (_, b) in TREE.items()},
                              "copy/", LINKS)
            self.assert_posix_tree(bucket, m.path("copy"), "copy/")
            self.assertEqual(run(["diff", "-r", "--no-dereference", src, m.path("copy")])
                             .returncode, 0)

    # ---- rsync ----

    def change_source(self, src, new_file=True):
        """Edits the local tree: bytes in the middle, a shrink, a growth, a new file."""
        notes = os.path.join(src, "doc/deep/er/notes")
        body = bytearray(read_bytes(notes))
        body[35000:35004] = b"EDIT"
        with open(notes, "wb") as f:
            f.write(body)
        with open(os.path.join(src, "doc/readme.txt"), "r+b") as f:
            f.truncate(1000)
        with open(os.path.join(src, "etc/app.conf"), "ab") as f:
            f.write(b"more = 1\n")
        changed = ["doc/deep/er/notes", "doc/readme.txt", "etc/app.conf"]
        if new_file:
            with open(os.path.join(src, "bin/new"), "wb") as f:
                f.write(b"new file\n")
            changed.append("bin/new")
        # An mtime that neither the copy in the mount (OLD_MTIME with --posix, else the upload
        # time) nor this run can have, so rsync's size+mtime check always sees the change.
        for rel in changed:
            os.utime(os.path.join(src, rel), (OLD_MTIME + 60, OLD_MTIME + 60))

    def local_files(self, src):
        out = {}
        for dirpath, _, names in os.walk(src):
            for name in names:
                path = os.path.join(dirpath, name)
                out[os.path.relpath(path, src)] = read_bytes(path)
        return out

    def rsync_twice(self, extra, options=RW):
        bucket = self.new_bucket()
        src = os.path.join(self.tmp, "src")
        make_tree(src, links=False)
        with Mount(self.moto, bucket, options) as m:
            r = run(["rsync", "-a"] + extra + [src + "/", m.path("dst")])
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assert_files(bucket, m.path("dst"), self.local_files(src), "dst/")
            self.change_source(src)
            # --no-whole-file: send only the changed blocks, as over a network.
            r = run(["rsync", "-a", "--no-whole-file"] + extra + [src + "/", m.path("dst")])
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assert_files(bucket, m.path("dst"), self.local_files(src), "dst/")
        with Mount(self.moto, bucket, options) as m:
            self.assert_files(bucket, m.path("dst"), self.local_files(src), "dst/")
            if "--posix" in options:
                for rel, (mode, _) in TREE.items():
                    st = os.stat(m.path("dst", rel))
                    self.assertEqual(stat.S_IMODE(st.st_mode), mode, rel)
                    self.assertEqual(int(st.st_mtime), int(os.stat(os.path.join(src, rel))
                                                           .st_mtime), rel)

    def test_rsync_inplace(self):
        # rsync --inplace ftruncates each file it writes to its length, new ones included.
        self.rsync_twice(["--inplace"])

    def test_rsync_inplace_updates_existing_files(self):
        # The files exist in S3 already: rsync --inplace changes only the blocks that differ,
        # through writes at offsets and a final ftruncate of each existing file.
        bucket = self.new_bucket()
        src = os.path.join(self.tmp, "src")
        make_tree(src, links=False)
        for rel, (_, body) in TREE.items():
            self.moto.put(bucket, "dst/" + rel, body)
        self.change_source(src, new_file=False)
        with Mount(self.moto, bucket, RW) as m:
            r = run(["rsync", "-a", "--inplace", "--no-whole-file", src + "/", m.path("dst")])
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assert_files(bucket, m.path("dst"), self.local_files(src), "dst/")
        with Mount(self.moto, bucket, RW) as m:
            self.assert_files(bucket, m.path("dst"), self.local_files(src), "dst/")

    def test_rsync_default_writes_a_temp_file_and_renames_it(self):
        # rsync writes .name.XXXXXX and renames it over name: no temp file may be left.
        self.rsync_twice([])

    def test_rsync_default_with_posix_keeps_modes_and_times(self):
        # rsync creates each temp file with mkstemp, then fchmods it while it is open.
        self.rsync_twice([], POSIX)

    # ---- git ----

    def test_git_clone_then_status_is_clean(self):
        self.git_clone(RW)

    def test_git_clone_with_posix_keeps_the_executable_bit(self):
        # git chmods its config.lock while it is open; the clone must keep bin/tool's 0755.
        self.git_clone(POSIX)

    def git_clone(self, options):
        bucket = self.new_bucket()
        env = git_env(self.tmp)
        repo = os.path.join(self.tmp, "repo")
        make_tree(repo, links=False)
        for cmd in (["git", "init", "-q", "-b", "main", repo],
                    ["git", "-C", repo, "add", "-A"],
                    ["git", "-C", repo, "commit", "-q", "-m", "first"]):
            r = run(cmd, env=env)
            self.assertEqual(r.returncode, 0, r.stderr)
        head = run(["git", "-C", repo, "rev-parse", "HEAD"], env=env).stdout.strip()
        files = {rel: body for rel, (_, body) in TREE.items()}
        with Mount(self.moto, bucket, options) as m:
            r = run(["git", "clone", "-q", repo, m.path("clone")], env=env)
            self.assertEqual(r.returncode, 0, r.stderr)
            r = run(["git", "-C", m.path("clone"), "status", "--porcelain"], env=env)
            self.assertEqual((r.returncode, r.stdout), (0, ""), r.stderr)
        with Mount(self.moto, bucket, options) as m:
            clone = m.path("clone")
            r = run(["git", "-C", clone, "status", "--porcelain"], env=env)
            self.assertEqual((r.returncode, r.stdout), (0, ""), r.stderr)
            self.assertEqual(run(["git", "-C", clone, "rev-parse", "HEAD"], env=env)
                             .stdout.strip(), head)
            r = run(["git", "-C", clone, "fsck", "--full"], env=env)
            self.assertEqual(r.returncode, 0, r.stderr)
            for rel, body in files.items():
                self.assertEqual(read_bytes(os.path.join(clone, rel)), body, rel)
                self.assertEqual(self.moto.get(bucket, "clone/" + rel), body, rel)
            self.assertEqual(self.moto.get(bucket, "clone/.git/HEAD"), b"ref: refs/heads/main\n")
            self.assertFalse([k for k in self.s3_keys(bucket, "clone/") if k.endswith(".lock")])
            if "--posix" in options:
                self.assertEqual(stat.S_IMODE(os.stat(os.path.join(clone, "bin/tool")).st_mode),
                                 0o755)

    # ---- sed -i ----

    def test_sed_in_place(self):
        bucket = self.new_bucket()
        self.moto.put(bucket, "d/conf", b"alpha\nfoo = 1\nomega\n")
        with Mount(self.moto, bucket, RW) as m:
            r = run(["sed", "-i", "s/foo = 1/foo = 2/", m.path("d/conf")])
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assert_files(bucket, m.dir, {"d/conf": b"alpha\nfoo = 2\nomega\n"})
        with Mount(self.moto, bucket, RW) as m:
            self.assert_files(bucket, m.dir, {"d/conf": b"alpha\nfoo = 2\nomega\n"})

    # ---- appends ----

    def test_shell_append_redirect(self):
        bucket = self.new_bucket()
        self.moto.put(bucket, "log", b"line1\n")
        with Mount(self.moto, bucket, RW) as m:
            for line in ("line2", "line3"):
                r = run(["sh", "-c", f"echo {line} >> {m.path('log')}"])
                self.assertEqual(r.returncode, 0, r.stderr)
            r = run(["sh", "-c", f"echo first >> {m.path('new')}"])
            self.assertEqual(r.returncode, 0, r.stderr)
            expected = {"log": b"line1\nline2\nline3\n", "new": b"first\n"}
            self.assert_files(bucket, m.dir, expected)
        with Mount(self.moto, bucket, RW) as m:
            self.assert_files(bucket, m.dir, expected)

    def test_python_append_mode(self):
        bucket = self.new_bucket()
        base = data(20000, seed=21)
        self.moto.put(bucket, "f", base)
        with Mount(self.moto, bucket, RW) as m:
            with open(m.path("f"), "ab") as f:
                f.write(b"tail-1")
            with open(m.path("f"), "a+b") as f:  # O_RDWR|O_APPEND: the whole file reads back
                f.write(b"tail-2")
                f.seek(0)
                self.assertEqual(f.read(), base + b"tail-1tail-2")
                f.seek(0)
                f.write(b"tail-3")  # O_APPEND writes at the end whatever the position
            with open(m.path("text"), "a") as f:
                f.write("made by append\n")
            expected = {"f": base + b"tail-1tail-2tail-3", "text": b"made by append\n"}
            self.assert_files(bucket, m.dir, expected)
        with Mount(self.moto, bucket, RW) as m:
            self.assert_files(bucket, m.dir, expected)

    # ---- dd, truncate ----

    def test_dd_conv_notrunc(self):
        bucket = self.new_bucket()
        base = data(65536, seed=31)
        patch = data(4096, seed=32)
        self.moto.put(bucket, "img", base)
        with open(os.path.join(self.tmp, "patch"), "wb") as f:
            f.write(patch)
        with Mount(self.moto, bucket, RW) as m:
            for seek in (3, 20):  # a block inside the object, then one past its end
                r = run(["dd", f"if={self.tmp}/patch", f"of={m.path('img')}", "bs=4096",
                         f"seek={seek}", "conv=notrunc", "status=none"])
                self.assertEqual(r.returncode, 0, r.stderr)
            expected = bytearray(base) + bytes(20 * 4096 - len(base)) + patch
            expected[3 * 4096:4 * 4096] = patch
            self.assertEqual(os.stat(m.path("img")).st_size, 21 * 4096)
            self.assert_files(bucket, m.dir, {"img": bytes(expected)})
        with Mount(self.moto, bucket, RW) as m:
            self.assert_files(bucket, m.dir, {"img": bytes(expected)})

    def test_truncate_shrinks_and_grows(self):
        bucket = self.new_bucket()
        base = data(10000, seed=41)
        self.moto.put(bucket, "f", base)
        with Mount(self.moto, bucket, RW) as m:
            steps = [("4000", base[:4000]), ("9000", base[:4000] + bytes(5000)),
                     ("+1000", base[:4000] + bytes(6000)), ("0", b"")]
            for size, expected in steps:
                r = run(["truncate", "-s", size, m.path("f")])
                self.assertEqual(r.returncode, 0, r.stderr)
                self.assertEqual(os.stat(m.path("f")).st_size, len(expected), size)
                self.assert_files(bucket, m.dir, {"f": expected})
            self.assertEqual(run(["truncate", "-s", "3000", m.path("f")]).returncode, 0)
            self.assert_files(bucket, m.dir, {"f": bytes(3000)})
        with Mount(self.moto, bucket, RW) as m:
            self.assert_files(bucket, m.dir, {"f": bytes(3000)})

    def test_truncate_creates_a_file_of_that_size(self):
        bucket = self.new_bucket()
        with Mount(self.moto, bucket, RW) as m:
            r = run(["truncate", "-s", "3000", m.path("created")])
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assert_files(bucket, m.dir, {"created": bytes(3000)})
        with Mount(self.moto, bucket, RW) as m:
            self.assert_files(bucket, m.dir, {"created": bytes(3000)})

    # ---- mv ----

    def test_mv_files(self):
        bucket = self.new_bucket()
        a, b, c = data(5000, seed=51), data(6000, seed=52), data(7000, seed=53)
        self.moto.put(bucket, "a", a)
        self.moto.put(bucket, "b", b)
        self.moto.put(bucket, "sub/c", c)
        with Mount(self.moto, bucket, RW) as m:
            for cmd in (["mv", m.path("a"), m.path("a2")],            # rename in place
                        ["mv", m.path("a2"), m.path("sub/")],         # into a directory
                        ["mv", "-f", m.path("b"), m.path("sub/c")]):  # onto an existing file
                r = run(cmd)
                self.assertEqual(r.returncode, 0, r.stderr)
            expected = {"sub/a2": a, "sub/c": b}
            self.assert_files(bucket, m.dir, expected)
        with Mount(self.moto, bucket, RW) as m:
            self.assert_files(bucket, m.dir, expected)

    def test_mv_directories(self):
        bucket = self.new_bucket()
        files = {"d/x": data(3000, seed=61), "d/sub/y": data(4000, seed=62), "d/sub/z": b""}
        for key, body in files.items():
            self.moto.put(bucket, key, body)
        self.moto.put(bucket, "other/keep", b"k")
        with Mount(self.moto, bucket, RW) as m:
            r = run(["mv", m.path("d"), m.path("e")])
            self.assertEqual(r.returncode, 0, r.stderr)
            r = run(["mv", m.path("e/sub"), m.path("other/")])  # into another directory
            self.assertEqual(r.returncode, 0, r.stderr)
            expected = {"e/x": files["d/x"], "other/sub/y": files["d/sub/y"],
                        "other/sub/z": b"", "other/keep": b"k"}
            self.assertFalse(os.path.exists(m.path("d")))
            self.assert_files(bucket, m.dir, expected)
        with Mount(self.moto, bucket, RW) as m:
            self.assertFalse(os.path.exists(m.path("d")))
            self.assert_files(bucket, m.dir, expected)

    def test_rename_syscall_of_files_and_directories(self):
        # rename(2) itself, which mv, rsync, sed -i and git fall back from or depend on.
        bucket = self.new_bucket()
        a, b, x = data(5000, seed=71), data(6000, seed=72), data(7000, seed=73)
        self.moto.put(bucket, "a", a)
        self.moto.put(bucket, "b", b)
        self.moto.put(bucket, "d/x", x)
        with Mount(self.moto, bucket, ["--allow-overwrite"]) as m:  # no --allow-delete
            with self.assertRaises(OSError) as ctx:
                os.rename(m.path("a"), m.path("a2"))
            self.assertEqual(ctx.exception.errno, errno.EPERM)
        self.assertEqual(sorted(self.s3_keys(bucket)), ["a", "b", "d/x"])
        with Mount(self.moto, bucket, RW) as m:
            os.rename(m.path("a"), m.path("a2"))
            os.replace(m.path("b"), m.path("a2"))  # onto an existing file
            os.rename(m.path("d"), m.path("e"))
            self.assertFalse(os.path.exists(m.path("d")))
            self.assert_files(bucket, m.dir, {"a2": b, "e/x": x})
        with Mount(self.moto, bucket, RW) as m:
            self.assert_files(bucket, m.dir, {"a2": b, "e/x": x})

    # ---- directories ----

    def test_mkdir_ls_rm_of_an_empty_directory(self):
        bucket = self.new_bucket()
        self.moto.put(bucket, "f", b"x")
        with Mount(self.moto, bucket, RW) as m:
            self.assertEqual(run(["mkdir", m.path("d"), m.path("d2")]).returncode, 0)
            r = run(["ls", "-A", m.dir])
            self.assertEqual(r.stdout.split(), ["d", "d2", "f"], r.stderr)
            r = run(["ls", "-A", m.path("d")])
            self.assertEqual((r.returncode, r.stdout), (0, ""), r.stderr)
            self.assertTrue(stat.S_ISDIR(os.stat(m.path("d")).st_mode))
            self.assertEqual(run(["rmdir", m.path("d")]).returncode, 0)
            self.assertEqual(run(["rm", "-r", m.path("d2")]).returncode, 0)
            self.assertEqual(run(["ls", "-A", m.dir]).stdout.split(), ["f"])
            self.assertEqual(self.s3_keys(bucket), ["f"])
        with Mount(self.moto, bucket, RW) as m:
            self.assertEqual(os.listdir(m.dir), ["f"])

    def test_empty_directory_survives_a_remount(self):
        bucket = self.new_bucket()
        with Mount(self.moto, bucket, RW) as m:
            self.assertEqual(run(["mkdir", "-p", m.path("d/e")]).returncode, 0)
        self.assertEqual(sorted(self.s3_keys(bucket)), ["d/", "d/e/"])
        with Mount(self.moto, bucket, RW) as m:
            self.assertEqual(run(["ls", "-A", m.dir]).stdout.split(), ["d"])
            self.assertEqual(os.listdir(m.path("d")), ["e"])
            self.assertEqual(os.listdir(m.path("d/e")), [])
            r = run(["rm", "-r", m.path("d")])
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertEqual(os.listdir(m.dir), [])
        self.assertEqual(self.s3_keys(bucket), [])
        with Mount(self.moto, bucket, RW) as m:
            self.assertEqual(os.listdir(m.dir), [])

    # ---- touch -d ----

    def touch_d(self, name, existing):
        bucket = self.new_bucket()
        if existing:
            self.moto.put(bucket, name, b"existing")
        with Mount(self.moto, bucket, POSIX) as m:
            r = run(["touch", "-d", "2020-01-01 00:00:01 UTC", m.path(name)])
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertEqual(int(os.stat(m.path(name)).st_mtime), OLD_MTIME, "before remount")
        with Mount(self.moto, bucket, POSIX) as m:
            self.assertEqual(int(os.stat(m.path(name)).st_mtime), OLD_MTIME, "after remount")
            self.assertEqual(int(float(self.s3_meta(bucket, name)["mtime"])), OLD_MTIME)
            self.assert_files(bucket, m.dir, {name: b"existing" if existing else b""})

    def test_touch_d_of_an_existing_file_keeps_mtime_with_posix(self):
        self.touch_d("old", existing=True)

    def test_touch_d_creating_a_file_keeps_mtime_with_posix(self):
        # touch opens the new file O_CREAT, then futimens() it while open, then closes it.
        self.touch_d("new", existing=False)

if __name__ == "__main__":
    unittest.main()
