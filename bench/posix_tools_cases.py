"""posix_tools_cases.py: the tools of bench/posix_tools.sh, one generator per tool.

Each case is a generator taking a Ctx (posix_tools.py): the code before its first `yield`
prepares (local files, objects put straight into S3), the code up to the second `yield`
is the tool itself (the timed part), and the rest checks the result after a remount,
through the mount and in S3. A check raises Failure when data is wrong and MetaLost when
the data is right but a mode, mtime or owner was not kept.
"""
import os
import stat
import zipfile

# 2020-01-01 00:00:01 UTC: an mtime no run could produce by itself.
OLD_MTIME = 1577836801
OLD_DATE = "2020-01-01 00:00:01 UTC"


def body(n, seed):
    import random
    return random.Random(seed).randbytes(n)


# A small tree: path -> (mode, bytes), and its symlinks (path -> target).
TREE = {
    "bin/tool": (0o755, b"#!/bin/sh\necho tool\n"),
    "etc/app.conf": (0o640, b"key = value\n"),
    "doc/readme.txt": (0o644, body(3000, 1)),
    "doc/deep/notes": (0o600, body(70000, 2)),
    "empty-file": (0o644, b""),
}
LINKS = {"bin/link": "tool", "latest": "doc/readme.txt"}


def tree_files():
    return {rel: data for rel, (_, data) in TREE.items()}


def tree_modes():
    return {rel: mode for rel, (mode, _) in TREE.items()}


def make_tree(root, links):
    for rel, (mode, data) in TREE.items():
        path = os.path.join(root, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(data)
        os.chmod(path, mode)
        os.utime(path, (OLD_MTIME, OLD_MTIME))
    for rel, target in (LINKS.items() if links else ()):
        os.symlink(target, os.path.join(root, rel))


def check_tree(c, under, links, mtimes=True):
    c.expect_files(tree_files(), under, links=LINKS if links else {})
    c.expect_links(LINKS if links else {}, under)
    c.expect_modes(tree_modes(), under)
    if mtimes:
        c.expect_mtimes(list(TREE), OLD_MTIME, under)


def tar_x(c):
    make_tree(c.local("src"), links=True)
    c.run(["tar", "-cf", c.local("tree.tar"), "-C", c.local("src"), "."])
    yield
    c.run(["tar", "-xpf", c.local("tree.tar"), "-C", c.path()])
    yield
    check_tree(c, "", links=True)


def cp_a(c):
    make_tree(c.local("src"), links=True)
    yield
    c.run(["cp", "-a", c.local("src") + "/.", c.path("dst")])
    yield
    check_tree(c, "dst", links=True)


def change_tree(root):
    """Edits a local tree: bytes in the middle, a shrink, an append, a new file."""
    notes = os.path.join(root, "doc/deep/notes")
    data = bytearray(open(notes, "rb").read())
    data[35000:35004] = b"EDIT"
    with open(notes, "wb") as f:
        f.write(data)
    with open(os.path.join(root, "doc/readme.txt"), "r+b") as f:
        f.truncate(1000)
    with open(os.path.join(root, "etc/app.conf"), "ab") as f:
        f.write(b"more = 1\n")
    with open(os.path.join(root, "bin/new"), "wb") as f:
        f.write(b"new\n")
    for rel in ("doc/deep/notes", "doc/readme.txt", "etc/app.conf", "bin/new"):
        os.utime(os.path.join(root, rel), (OLD_MTIME + 60, OLD_MTIME + 60))


def rsync_case(extra):
    def case(c):
        src = c.local("src")
        make_tree(src, links=False)
        yield
        c.run(["rsync", "-a"] + extra + [src + "/", c.path("dst")])
        change_tree(src)
        c.run(["rsync", "-a", "--no-whole-file"] + extra + [src + "/", c.path("dst")])
        yield
        c.expect_files(c.local_files(src), "dst")
        c.expect_modes(tree_modes(), "dst")
        c.expect_mtimes(["bin/tool", "doc/deep/notes"], None, "dst", local=src)
    return case


def git_clone(c):
    repo = c.local("repo")
    make_tree(repo, links=False)
    for cmd in (["git", "init", "-q", "-b", "main", repo], ["git", "-C", repo, "add", "-A"],
                ["git", "-C", repo, "commit", "-q", "-m", "first"]):
        c.run(cmd)
    head = c.run(["git", "-C", repo, "rev-parse", "HEAD"]).strip()
    yield
    c.run(["git", "clone", "-q", repo, c.path("clone")])
    if c.run(["git", "-C", c.path("clone"), "status", "--porcelain"]):
        c.fail("git status is not clean right after the clone")
    yield
    status = c.run(["git", "-C", c.path("clone"), "status", "--porcelain"])
    if status:
        c.fail(f"git status after remount: {status.splitlines()[0]}")
    if c.run(["git", "-C", c.path("clone"), "rev-parse", "HEAD"]).strip() != head:
        c.fail("HEAD differs from the source repository")
    c.run(["git", "-C", c.path("clone"), "fsck", "--full"])
    for rel, data in tree_files().items():
        c.expect_object("clone/" + rel, data)
    c.expect_modes({"bin/tool": 0o755}, "clone")


def sed_i(c):
    c.put("conf", b"alpha\nfoo = 1\nomega\n")
    yield
    c.run(["sed", "-i", "s/foo = 1/foo = 2/", c.path("conf")])
    yield
    c.expect_files({"conf": b"alpha\nfoo = 2\nomega\n"})


def echo_append(c):
    c.put("log", b"line1\n")
    yield
    c.run(["sh", "-c", f"echo line2 >> {c.path('log')} && echo line3 >> {c.path('log')}"])
    yield
    c.expect_files({"log": b"line1\nline2\nline3\n"})


def python_append(c):
    base = body(20000, 3)
    c.put("f", base)
    yield
    c.run(["python3", "-c", "import sys\nfor t in sys.argv[2:]:\n"
           "    with open(sys.argv[1], 'ab') as f: f.write(t.encode())", c.path("f"), "t1", "t2"])
    yield
    c.expect_files({"f": base + b"t1t2"})


def dd_notrunc(c):
    base, patch = body(65536, 4), body(4096, 5)
    c.put("img", base)
    with open(c.local("patch"), "wb") as f:
        f.write(patch)
    yield
    c.run(["dd", f"if={c.local('patch')}", f"of={c.path('img')}", "bs=4096", "seek=3",
           "conv=notrunc", "status=none"])
    yield
    c.expect_files({"img": base[:3 * 4096] + patch + base[4 * 4096:]})


def truncate(c):
    base = body(10000, 6)
    c.put("f", base)
    yield
    c.run(["truncate", "-s", "4000", c.path("f")])
    c.run(["truncate", "-s", "9000", c.path("f")])
    yield
    c.expect_files({"f": base[:4000] + bytes(5000)})


def mv(c):
    a, x, y = body(5000, 7), body(3000, 8), body(4000, 9)
    c.put("a", a)
    c.put("d/x", x)
    c.put("d/sub/y", y)
    yield
    c.run(["mv", c.path("a"), c.path("b")])
    c.run(["mv", c.path("d"), c.path("e")])
    yield
    if os.path.exists(c.path("d")):
        c.fail("the old directory is still there")
    c.expect_files({"b": a, "e/x": x, "e/sub/y": y})


def mkdir_rmdir(c):
    c.put("f", b"x")
    yield
    c.run(["mkdir", c.path("kept"), c.path("gone")])
    if c.run(["ls", "-A", c.path("kept")]) != "":
        c.fail("a new directory is not empty")
    c.run(["rmdir", c.path("gone")])
    yield
    if sorted(os.listdir(c.path())) != ["f", "kept"]:
        c.fail(f"after remount the directory holds {sorted(os.listdir(c.path()))}, "
               "not ['f', 'kept']")
    if os.listdir(c.path("kept")):
        c.fail("the kept directory is not empty")
    c.expect_files({"f": b"x"})


def touch_d(c):
    c.put("old", b"existing")
    yield
    c.run(["touch", "-d", OLD_DATE, c.path("old"), c.path("new")])
    yield
    c.expect_files({"old": b"existing", "new": b""})
    c.expect_mtimes(["old", "new"], OLD_MTIME)


def chmod_x(c):
    c.put("script", b"#!/bin/sh\necho ran\n")
    yield
    before = os.stat(c.path("script")).st_mode & 0o7777  # each client has its own default
    c.run(["chmod", "+x", c.path("script")])
    yield
    c.expect_files({"script": b"#!/bin/sh\necho ran\n"})
    c.expect_modes({"script": before | 0o111})


def ln_s(c):
    c.put("target", b"pointed at\n")
    yield
    c.run(["ln", "-s", "target", c.path("link")])
    yield
    c.expect_links({"link": "target"})
    if open(c.path("link"), "rb").read() != b"pointed at\n":
        c.fail("reading through the link does not give the target's bytes")
    c.expect_files({"target": b"pointed at\n"}, links={"link": "target"})


def unzip(c):
    with zipfile.ZipFile(c.local("tree.zip"), "w") as z:
        for rel, (mode, data) in TREE.items():
            info = zipfile.ZipInfo(rel, date_time=(2020, 1, 1, 0, 0, 2))
            info.external_attr = (stat.S_IFREG | mode) << 16
            info.create_system = 3  # Unix: unzip applies the modes
            z.writestr(info, data)
    yield
    c.run(["unzip", "-q", c.local("tree.zip"), "-d", c.path("dst")])
    yield
    c.expect_files(tree_files(), "dst")
    c.expect_modes(tree_modes(), "dst")


def cp_r(c):
    make_tree(c.local("src"), links=False)
    yield
    c.run(["cp", "-r", c.local("src"), c.path("dst")])
    yield
    c.expect_files(tree_files(), "dst")
    c.expect_modes(tree_modes(), "dst")


def touch(c):
    c.put("old", b"existing")
    yield
    c.run(["touch", c.path("old"), c.path("new")])
    yield
    c.expect_files({"old": b"existing", "new": b""})


VIM_STYLE = """import os, sys
path = sys.argv[1]
tmp = os.path.join(os.path.dirname(path), "." + os.path.basename(path) + ".swp")
data = open(path, "rb").read().replace(b"old", b"new")
with open(tmp, "wb") as f:
    f.write(data)
    f.flush()
    os.fsync(f.fileno())
os.replace(tmp, path)
"""


def vim_style(c):
    c.put("doc.txt", b"the old text\n" * 100)
    yield
    c.run(["python3", "-c", VIM_STYLE, c.path("doc.txt")])
    yield
    c.expect_files({"doc.txt": b"the new text\n" * 100})


# The tools in the order of the table; the first 13 are the suite's (tests/mount/test_posix.py).
CASES = {
    "tar -x": tar_x,
    "cp -a": cp_a,
    "rsync -a": rsync_case([]),
    "rsync -a --inplace": rsync_case(["--inplace"]),
    "git clone + status": git_clone,
    "sed -i": sed_i,
    "echo >>": echo_append,
    "python append": python_append,
    "dd conv=notrunc": dd_notrunc,
    "truncate": truncate,
    "mv file + dir": mv,
    "mkdir/ls/rmdir": mkdir_rmdir,
    "touch -d": touch_d,
    "chmod +x": chmod_x,
    "ln -s": ln_s,
    "unzip": unzip,
    "cp -r": cp_r,
    "touch": touch,
    "write temp + rename": vim_style,
}
