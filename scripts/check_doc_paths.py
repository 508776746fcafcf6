#!/usr/bin/env python3
"""Fail when README.md or docs/*.md names a file, folder or test that does not exist.

The docs map each practice to its code and its test (docs/security.md): a file moved or a test
renamed must not leave a row pointing at nothing. Checked, in every line of those files:

- repository paths: `security/cardguard.py`, `tests/system/`, `deploy/nginx.conf`, `.ci/run`
  (a token whose first part is a top-level folder of the repository, anywhere in the text);
- test names: `tests/checkout/test_webhooks.py::test_duplicate_deliveries_apply_once` must find
  `def test_duplicate_deliveries_apply_once` in that file (`class` for the parts before the last);
  a bare `::test_name` refers to the test file named last before it on the same line (a row);
- Markdown links to local files, relative to the document: `[keys](keys.md)` in docs/ is
  docs/keys.md. A link or path that leaves the repository (`../../x` climbing out of it, a
  `file://` URL) is an error: everything a doc cites must be in the repository or on a
  public web page.

A pattern (`tests/sandbox/test_*.py`) must match a file. Paths after a `/` (URLs,
`/etc/nginx/…`) and placeholders (`…`, `<name>`) are not checked.
Standard library only; `make lint` runs it. Exit status 1 lists each broken reference.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOCS = ["README.md", *sorted(p.relative_to(ROOT).as_posix() for p in (ROOT / "docs").glob("*.md"))]

# A path with at least one slash, not glued to a word, a dot or a slash before it (so not the
# tail of a URL or of an absolute path); optionally followed by ::names (pytest node ids).
PATH = re.compile(
    r"(?<![\w./:@~-])(?P<path>\.?[\w-]+(?:\.[\w-]+)*/(?:[\w.-]+/)*[\w.-]*)"
    r"(?P<names>(?:::[\w\[\]-]+)*)"
)
# `::test_name` on its own: a test of the last file named on the line.
BARE_NAMES = re.compile(r"(?<![\w:/.])(?P<names>(?:::Test\w*)*::test_\w+(?:\[[^\]]*\])?)")
LINK = re.compile(r"\[[^\]]*\]\((?P<target>[^)\s]+)\)")
OUTSIDE = re.compile(r"file://[^\s`)]*|(?<![\w./])(?:\.\./)+[\w./-]*")


def top_level_folders() -> set[str]:
    """The repository's top-level folders that hold a tracked file (or, without git, exist)."""
    try:
        listing = subprocess.run(  # noqa: S603 - a fixed argument list, no shell
            ["git", "ls-files"],  # noqa: S607 - git from PATH, as the developer runs it
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        )
        files = listing.stdout.splitlines()
        folders = {f.split("/", 1)[0] for f in files if "/" in f}
        if folders:
            return folders
    except (OSError, subprocess.CalledProcessError):
        pass
    ignored = {".git", ".venv", "var", "staticfiles", "__pycache__"}
    return {p.name for p in ROOT.iterdir() if p.is_dir() and p.name not in ignored}


def defines(path: Path, names: list[str]) -> str | None:
    """None when `path` defines the pytest node `names`, else what is missing."""
    text = path.read_text(encoding="utf-8")
    *classes, function = [re.sub(r"\[.*\]$", "", name) for name in names]
    for cls in classes:
        if not re.search(rf"^\s*class {re.escape(cls)}\b", text, re.MULTILINE):
            return f"no class {cls}"
    if not re.search(
        rf"^\s*(?:async\s+)?(?:def|class) {re.escape(function)}\b", text, re.MULTILINE
    ):
        return f"no def {function}"
    return None


def inside(target: Path) -> bool:
    try:
        target.resolve().relative_to(ROOT)
    except ValueError:
        return False
    return True


def problems_in(doc: str, roots: set[str]):
    """(line number, reference, problem) for every broken reference in `doc`."""
    base = (ROOT / doc).parent
    for number, line in enumerate((ROOT / doc).read_text(encoding="utf-8").splitlines(), 1):
        for match in OUTSIDE.finditer(line):
            reference = match[0].rstrip(".,;:")
            if reference.startswith("file://") or not inside(base / reference):
                yield number, reference, "names a file outside the repository"
        for match in LINK.finditer(line):
            target = match["target"].split("#", 1)[0]
            if not target or re.match(r"[a-z][a-z0-9+.-]*:", target):  # a URL, mailto:, #anchor
                continue
            resolved = base / target
            if not inside(resolved):
                yield number, target, "link leaves the repository"
            elif not resolved.exists():
                yield number, target, "link to a missing file"
        last_file = None  # the test file a bare `::test_name` refers to
        tokens = sorted(
            [(m.start(), "path", m) for m in PATH.finditer(line)]
            + [(m.start(), "names", m) for m in BARE_NAMES.finditer(line)],
            key=lambda token: token[0],
        )
        for _, kind, match in tokens:
            if kind == "names":
                if last_file is not None:
                    path, target = last_file
                    missing = defines(target, match["names"][2:].split("::"))
                    if missing:
                        yield number, f"{path}{match['names']}", missing
                continue
            path = match["path"].rstrip(".,;:")
            if path.split("/", 1)[0] not in roots or re.match(r"[…<]", line[match.end() :]):
                continue
            if line[match.end() :].startswith("*"):  # a pattern: tests/sandbox/test_*.py
                pattern = path + re.match(r"[\w.*/-]*", line[match.end() :])[0].rstrip(".")
                if not any(ROOT.glob(pattern)):
                    yield number, pattern, "the pattern matches no file"
                continue
            target = ROOT / path
            if not target.exists():
                yield number, path, "no such file or folder"
                continue
            if target.is_file() and path.endswith(".py"):
                last_file = (path, target)
            if match["names"]:
                missing = defines(target, match["names"][2:].split("::"))
                if missing:
                    yield number, path + match["names"], missing


def main() -> int:
    roots = top_level_folders()
    count = 0
    for doc in DOCS:
        for number, reference, problem in problems_in(doc, roots):
            print(f"{doc}:{number}: {reference}: {problem}")
            count += 1
    if count:
        print(f"{count} broken reference(s) in {', '.join(DOCS)}")
        return 1
    print(f"every path and test named in {len(DOCS)} documents exists")
    return 0


if __name__ == "__main__":
    sys.exit(main())
