"""The leak scan fails on committed Omise keys (masked in its output) and passes on this repo."""

import secrets
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import require_executable

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "leak_scan.py"


def key(kind: str, test: bool = False) -> str:
    """A freshly generated key of Omise's shape: never a real one, never in this file's text."""
    return f"{kind}_{'test_' if test else ''}5{secrets.token_hex(10)}"


def run(*argv: str, **kwargs) -> subprocess.CompletedProcess:
    """A fixed argument list, no shell (git and Python from the test environment)."""
    return subprocess.run(argv, timeout=60, **kwargs)  # noqa: S603


def run_scan(root: Path, *files: str) -> subprocess.CompletedProcess:
    return run(
        sys.executable, str(SCRIPT), "--root", str(root), *files, capture_output=True, text=True
    )


@pytest.fixture
def repo(tmp_path):
    """An empty git repository; `plant(path, text)` writes a file and tracks it."""
    require_executable("git", "install git")
    run("git", "init", "-q", str(tmp_path), check=True)

    def plant(name: str, text: str) -> None:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        run("git", "-C", str(tmp_path), "add", name, check=True)

    plant.root = tmp_path
    return plant


def test_this_repository_has_no_keys():
    """Every tracked file of this repository passes the scan (what `make test` runs)."""
    result = run_scan(ROOT)
    assert result.returncode == 0, result.stderr


def test_live_looking_key_fails_with_masked_output(repo):
    """A live-looking secret key in settings fails; the output shows file:line and last 4 only."""
    secret = key("skey")
    repo("config/settings.py", f'DEBUG = False\nOMISE_SECRET_KEY = "{secret}"\n')
    result = run_scan(repo.root)
    assert result.returncode == 1
    assert f"config/settings.py:2: skey_…{secret[-4:]} (live-looking key)" in result.stderr
    assert secret not in result.stdout + result.stderr
    assert secret[5:-4] not in result.stdout + result.stderr


def test_public_key_and_env_file_fail(repo):
    """Public keys count too, and a committed .env is scanned like any file."""
    repo(".env", f"OMISE_PUBLIC_KEY={key('pkey')}\n")
    result = run_scan(repo.root)
    assert result.returncode == 1 and ".env:1: pkey_…" in result.stderr


def test_fake_test_key_in_tests_passes(repo):
    """A `_test_` key inside tests/ that says it is fake is a sandbox key: allowed."""
    repo("tests/test_pay.py", f'KEY = "skey_test_5fake{secrets.token_hex(8)}"\n')
    assert run_scan(repo.root).returncode == 0


def test_a_real_looking_test_key_in_tests_fails(repo):
    """A test key pasted into a test from the dashboard is a credential of the account."""
    repo("tests/test_pay.py", f'KEY = "{key("skey", test=True)}"\n')
    result = run_scan(repo.root)
    assert result.returncode == 1 and "does not say 'fake'" in result.stderr


def test_a_key_body_without_digits_is_still_a_key(repo):
    """A real key's random body may hold no digit: it is found all the same."""
    body = "".join(secrets.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(19))
    repo("config/settings.py", f'OMISE_SECRET_KEY = "skey_{body}"\n')
    assert run_scan(repo.root).returncode == 1


def test_test_key_outside_tests_fails(repo):
    """A test-mode key in application code or docs is still a credential: refused."""
    repo("docs/setup.md", f"export OMISE_SECRET_KEY={key('skey', test=True)}\n")
    result = run_scan(repo.root)
    assert result.returncode == 1 and "(test key outside tests/)" in result.stderr


def test_placeholders_and_identifiers_pass(repo):
    """Placeholders (one repeated character) and names like `pkey_configuration` are not keys."""
    repo("docs/keys.md", "OMISE_SECRET_KEY=skey_test_xxxxxxxxxxxxxxxx\npkey_configuration = 1\n")
    assert run_scan(repo.root).returncode == 0


def test_untracked_files_are_not_scanned(repo):
    """Only tracked files count: a developer's git-ignored .env is where keys belong."""
    repo("README.md", "hello\n")
    (repo.root / ".env").write_text(f"OMISE_SECRET_KEY={key('skey')}\n")
    assert run_scan(repo.root).returncode == 0


def test_named_files_are_scanned_as_the_hook_does(repo):
    """With file names (pre-commit passes the staged ones) exactly those files are scanned."""
    (repo.root / "new.py").write_text(f'K = "{key("skey")}"\n')
    assert run_scan(repo.root, "new.py").returncode == 1


def test_pre_commit_hook_runs_the_same_script():
    """The pre-commit configuration runs scripts/leak_scan.py for anyone forking the project."""
    config = (ROOT / ".pre-commit-config.yaml").read_text()
    assert "entry: python3 scripts/leak_scan.py" in config
    assert "repo: local" in config
