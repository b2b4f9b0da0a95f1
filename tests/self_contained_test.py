#!/usr/bin/env python3
"""The repository carries everything it needs: no tracked file refers to a path outside it.

A user's clone has nothing beside it, so a file that reaches for a sibling folder of the clone or
any relative path climbing above the repository root works only on a developer's machine. Three
kinds of reference are caught:
  - a relative path (`../x`, `$HERE/../..`) that, resolved from the file's own folder, leaves the
    repository (scripts locate themselves with `$(dirname "$0")`, documents link from their folder);
  - a ".." string joined as a path component (`root / ".." / "x"`, `os.path.join(root, "..")`),
    whatever folder it starts from;
  - the names of the development folders that sit beside the repository (`shared/testdata`,
    `shared/docs`, `shared/hooks`).
Run by ctest (label unit) from the source tree; `--self-test` checks that each kind is caught.
"""
import os
import re
import subprocess
import sys
import tempfile
import unittest

# "..", alone or chained, not part of a longer name ("a..b", "..."), then a separator or the end.
CLIMB = re.compile(r"(?<![\w.])\.\.(?:/\.\.)*(?=/|[\s\"'`)\]}:;,]|$)")
# ".." as a string literal joined into a path: C++ `root / ".."`, Python `os.path.join(x, "..")`.
SLASH_DOTDOT = re.compile(r"""/\s*["']\.\.["']|["']\.\.["']\s*/""")
JOIN_DOTDOT = re.compile(r"""join\(.*["']\.\.["']""")
SIBLING_NAMES = re.compile(r"\bshared/(?:testdata|docs|hooks)\b")
# Where a relative climb is resolved from: the start of the path it ends, e.g. `$HERE/../..`,
# `$(dirname "$0")/..`, or a bare `../x` written relative to the file's folder.
ROOT_ANCHORS = re.compile(r"(?:\$\{?ROOT\}?|\$\{?REPO\}?|SOURCE_DIR\}?|source_dir)/$")


SELF = "tests/self_contained_test.py"


def tracked_files(root):
    try:
        out = subprocess.run(["git", "-C", root, "ls-files", "-z"], check=True,
                             capture_output=True).stdout
        return [p for p in out.decode().split("\0") if p]
    except (OSError, subprocess.CalledProcessError):
        names = []
        for d, dirs, files in os.walk(root):
            dirs[:] = [x for x in dirs if x != ".git" and not x.startswith("build")]
            names += [os.path.relpath(os.path.join(d, f), root) for f in files]
        return names


def read_text(path):
    with open(path, "rb") as f:
        data = f.read()
    if b"\0" in data:
        return None
    return data.decode("utf-8", errors="replace")


def findings_in(rel, text):
    """(line number, reason, line) for each reference outside the repository in one file."""
    depth = rel.count("/")  # folders between the repository root and the file
    found = []
    for n, line in enumerate(text.splitlines(), 1):
        if SIBLING_NAMES.search(line):
            found.append((n, "names a folder beside the repository", line))
            continue
        if SLASH_DOTDOT.search(line):
            found.append((n, 'joins ".." into a path', line))
            continue
        if JOIN_DOTDOT.search(line):
            # join(dirname(__file__), "..", ...) climbs from the file's folder; from anywhere
            # else it climbs from a folder this check cannot know, so it is refused.
            ups = len(re.findall(r"""["']\.\.["']""", line))
            if "__file__" not in line or ups > depth:
                found.append((n, f'joins ".." into a path ({ups} up)', line))
            continue
        for m in CLIMB.finditer(line):
            ups = m.group(0).count("..")
            anchored_at_root = ROOT_ANCHORS.search(line[:m.start()]) is not None
            if anchored_at_root or ups > depth:
                found.append((n, f"climbs {ups} folder(s) from {os.path.dirname(rel) or '.'}",
                              line))
                break
    return found


def check_tree(root, files=None):
    problems = []
    for rel in files if files is not None else tracked_files(root):
        if rel.startswith("tests/data/") or rel == SELF:
            continue  # third-party vectors kept as published; this file names the patterns
        path = os.path.join(root, rel)
        if os.path.islink(path) or not os.path.isfile(path):
            continue
        text = read_text(path)
        if text is None:
            continue
        for n, why, line in findings_in(rel, text):
            problems.append(f"{rel}:{n}: {why}: {line.strip()[:120]}")
    return problems


class SelfTest(unittest.TestCase):
    """Each kind of reference is caught, and a tree without one passes."""

    def tree(self, files):
        d = tempfile.mkdtemp()
        for rel, text in files.items():
            os.makedirs(os.path.join(d, os.path.dirname(rel)), exist_ok=True)
            with open(os.path.join(d, rel), "w") as f:
                f.write(text)
        return d, sorted(files)

    def test_clean_tree_passes(self):
        d, files = self.tree({
            "scripts/test": 'cd "$(dirname "$0")/.."\n',
            "tests/cluster/lab.sh": 'REPO=$(cd "$HERE/../.." && pwd)\n',
            "docs/A.md": "[readme](../README.md) and a range a..b, and ...\n",
            "tests/mount/h.py": "os.path.join(os.path.dirname(__file__), '..', '..')\n",
            "src/x.cc": 'names = {".", ".."};\n',
        })
        self.assertEqual(check_tree(d, files), [])

    def test_each_kind_is_caught(self):
        d, files = self.tree({
            "src/s3/t.cc": 'auto p = fs::path(root) / ".." / "vectors";\n',
            "bench/run.sh": 'cat "$ROOT/../other/file"\n',
            "tests/x.sh": 'cd "$HERE/../../.."\n',
            "docs/B.md": "see shared/docs/STYLE.md\n",
            "top.py": "open('../sibling/data')\n",
            "tests/h.py": "os.path.join(os.path.dirname(__file__), '..', '..', '..')\n",
            "tests/i.py": "os.path.join(SOURCE, '..')\n",
        })
        found = check_tree(d, files)
        self.assertEqual(len(found), 7, found)
        for rel in files:
            self.assertTrue(any(p.startswith(rel + ":") for p in found), (rel, found))


def main():
    if "--self-test" in sys.argv:
        sys.argv.remove("--self-test")
        unittest.main()
    root = os.environ.get("S3MOUNT_SOURCE_DIR",
                          os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
    problems = check_tree(root)
    for p in problems:
        print(p)
    files = len(tracked_files(root))
    print(f"self_contained: {files} files checked, {len(problems)} outside references")
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
