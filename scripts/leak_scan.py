#!/usr/bin/env python3
"""Refuse Omise keys committed to the repository (Omise's guide: "Never commit your secret key").

Threat: a key pasted into settings, a .env or a doc gets pushed, and a public fork or a leaked
clone hands it to anyone; git history keeps it even after the line is deleted, so it must be
stopped before the commit. This scans every tracked file (`git ls-files`), or the files named on
the command line (the pre-commit hook passes the staged ones), for anything shaped like an
Omise public or secret key: `pkey_`/`skey_`, an optional `test_`, then a key body.

Allowed: test-mode keys in test files that say they are fake (`skey_test_5fake…`: a real
test key pasted into a test is still a credential of the account), placeholders whose body is
one repeated character (`skey_test_xxxxxxxxxxxx`), and the identifiers listed below. Everything
else fails, printing file:line and the key masked to its kind and last 4 characters. Standard
library only, so it runs before any dependency is installed: `python3 scripts/leak_scan.py`.
"""

import argparse
import re
import subprocess
import sys
from pathlib import Path, PurePosixPath

# A key body is 12+ letters/digits (a real one may, rarely, hold no digit at all). Not preceded
# or followed by another letter/digit, so `mypkey_…` or a longer token is not cut in half.
KEY = re.compile(
    r"(?<![0-9A-Za-z])(?P<prefix>[ps]key_(?P<test>test_)?)"
    r"(?P<body>[0-9A-Za-z]{12,})(?![0-9A-Za-z])"
)
# Names in code and docs that merely look like keys.
IDENTIFIERS = frozenset({"pkey_configuration"})
MAX_BYTES = 2_000_000  # larger files are data, not code; none is tracked here


def mask(prefix: str, body: str) -> str:
    return f"{prefix}…{body[-4:]}"


def is_test_file(path: str) -> bool:
    parts = PurePosixPath(path).parts
    return "tests" in parts[:-1] or parts[-1].startswith("test_")


def allowed(match: re.Match, path: str) -> bool:
    if match[0] in IDENTIFIERS or len(set(match["body"])) == 1:
        return True  # a name, or a placeholder: pkey_xxxxxxxxxxxx
    return bool(match["test"]) and is_test_file(path) and "fake" in match["body"].lower()


def findings(path: str, text: str):
    """(line number, masked key, reason) for every key in `text` that is not allowed."""
    for number, line in enumerate(text.splitlines(), start=1):
        for match in KEY.finditer(line):
            if not allowed(match, path):
                if not match["test"]:
                    reason = "live-looking key"
                elif is_test_file(path):
                    reason = "test key in a test that does not say 'fake'"
                else:
                    reason = "test key outside tests/"
                yield number, mask(match["prefix"], match["body"]), reason


def tracked_files(root: Path) -> list[str]:
    # A fixed argument list (no shell); git from PATH, as the developer runs it.
    output = subprocess.run(  # noqa: S603
        ["git", "-C", str(root), "ls-files", "-z"],  # noqa: S607
        capture_output=True,
        check=True,
    ).stdout
    return [name for name in output.decode().split("\0") if name]


def read_text(path: Path) -> str | None:
    """The file's text, or None for binaries, oversized files and tracked-but-deleted files."""
    try:
        if path.stat().st_size > MAX_BYTES:
            return None
        data = path.read_bytes()
    except (FileNotFoundError, IsADirectoryError):
        return None
    if b"\0" in data[:8192]:
        return None
    return data.decode("utf-8", errors="replace")


def scan(root: Path, names: list[str]) -> list[str]:
    problems = []
    for name in names:
        text = read_text(root / name)
        if text is not None:
            for number, masked, reason in findings(name, text):
                problems.append(f"{name}:{number}: {masked} ({reason})")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="*", help="files to scan (default: every tracked file)")
    parser.add_argument("--root", type=Path, default=Path.cwd(), help="repository root")
    args = parser.parse_args(argv)
    names = args.files or tracked_files(args.root)
    problems = scan(args.root, names)
    if not problems:
        print(f"leak scan: {len(names)} files, no Omise keys.")
        return 0
    print("leak scan: Omise keys found in the repository:", file=sys.stderr)
    for problem in problems:
        print(f"  {problem}", file=sys.stderr)
    print(
        "Keys belong in the environment only (docs/keys.md). If a real key was ever committed "
        "or pushed, roll it in the Omise dashboard now: deleting the line does not remove it "
        "from git history.",
        file=sys.stderr,
    )
    return 1


if __name__ == "__main__":
    sys.exit(main())
