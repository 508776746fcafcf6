"""Message catalogues: update them, and check that every shopper-facing string is translated.

    python scripts/translations.py update   # makemessages for every language in LANGUAGES
    python scripts/translations.py check    # exit 1 listing strings with no translation

`check` never touches the tracked catalogues: it copies the project (its git-tracked and new
files) to a temporary directory, runs `makemessages` there exactly as `update` would, and reads
the result. A string wrapped for translation since the last `update` (a new template, another
branch merged) shows up as untranslated; so does a fuzzy guess gettext made for a changed one.
Run `update`, translate what it lists in locale/<lang>/LC_MESSAGES/django.po, and check again.
`make test` runs the check (tests/config/test_translations.py).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# What makemessages must not read: the virtualenv, npm's packages, tests, benchmarks, docs.
IGNORE = [".venv", "node_modules", "tests", "bench", "docs", "staticfiles", "var", "deploy"]
# Catalogued languages: every one in settings.LANGUAGES but the source language (English).
LANGUAGES = ["th"]


def makemessages(root: Path) -> None:
    args = [sys.executable, "manage.py", "makemessages", "--no-obsolete", "--no-location"]
    args += [f"--locale={code}" for code in LANGUAGES]
    args += [f"--ignore={pattern}" for pattern in IGNORE]
    env = {**os.environ, "DEBUG": "true", "ENV_FILE": ""}
    env.pop("DJANGO_SETTINGS_MODULE", None)  # manage.py's own settings, not the tests'
    subprocess.run(args, cwd=root, env=env, check=True, capture_output=True)  # noqa: S603


def untranslated(po: Path) -> list[str]:
    """The msgids of `po` with an empty translation or marked fuzzy (header aside)."""
    problems = []
    for block in po.read_text(encoding="utf-8").split("\n\n"):
        lines = block.strip().splitlines()
        fuzzy = any(line.startswith("#,") and "fuzzy" in line for line in lines)
        fields: dict[str, str] = {}
        name = ""
        for line in lines:
            if line.startswith("#"):
                continue
            match = re.match(r'^(msg\w+(?:\[\d+\])?)\s+"(.*)"$', line)
            if match:
                name = match.group(1)
                fields[name] = match.group(2)
            elif line.startswith('"') and name:
                fields[name] += line[1:-1]
        msgid = fields.get("msgid", "")
        if not msgid:
            continue  # the header
        translations = [value for key, value in fields.items() if key.startswith("msgstr")]
        if fuzzy or not translations or not all(translations):
            problems.append(msgid)
    return problems


def check() -> dict[str, list[str]]:
    """{language: [untranslated msgids]} for the project as it is on disk now."""
    listed = _project_files()
    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp)
        for name in filter(None, listed):
            source = ROOT / name.decode()
            if source.is_file() and not name.startswith((b"tests/", b"docs/", b"bench/")):
                target = copy / name.decode()
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(source, target)
        makemessages(copy)
        return {
            code: untranslated(copy / "locale" / code / "LC_MESSAGES" / "django.po")
            for code in LANGUAGES
        }


def _project_files() -> list[bytes]:
    """The project's files: git's (tracked and new, not ignored), or, outside a git checkout,
    every file but the ignored folders."""
    git = ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"]
    try:
        listed = subprocess.run(git, cwd=ROOT, check=True, capture_output=True)  # noqa: S603,S607
    except (OSError, subprocess.CalledProcessError):
        return [
            path.relative_to(ROOT).as_posix().encode()
            for path in ROOT.rglob("*")
            if path.is_file() and not set(path.relative_to(ROOT).parts) & {*IGNORE, ".git"}
        ]
    return listed.stdout.split(b"\0")


def main(argv: list[str]) -> int:
    if argv[1:] == ["update"]:
        makemessages(ROOT)
        print("Updated:", ", ".join(f"locale/{code}/LC_MESSAGES/django.po" for code in LANGUAGES))
        return 0
    if argv[1:] == ["check"]:
        missing = check()
        for code, msgids in missing.items():
            for msgid in msgids:
                print(f"{code}: no translation for {msgid!r}")
        if any(missing.values()):
            print("Run `make messages`, translate, then `make check-translations` again.")
            return 1
        print("Every shopper-facing string is translated:", ", ".join(LANGUAGES))
        return 0
    print(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
