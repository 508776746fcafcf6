"""Helpers shared by the tests."""

import os
import secrets
import shutil
import string
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent  # the repository
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def skip_or_fail(reason: str) -> None:
    """Skip on a developer's machine that lacks a tool; fail under CI=true, where nothing skips."""
    if IN_CI:
        pytest.fail(f"{reason} (CI=true: missing tools fail instead of skipping)")
    pytest.skip(reason)


def require_executable(path_or_name: str, hint: str) -> str:
    """The executable's path, or skip/fail with a hint on how to install it."""
    found = shutil.which(path_or_name)
    if not found:
        skip_or_fail(f"{path_or_name} not found: {hint}")
    return found


def fake_live_key(prefix: str) -> str:
    """A random key shaped like a live Omise key (no `_test_`): not a real key, never one."""
    alphabet = string.ascii_lowercase + string.digits
    return prefix + "".join(secrets.choice(alphabet) for _ in range(20))


def production_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """What a real production host sets: live-looking keys, so no staging-only warning fires."""
    return {
        "PATH": os.environ["PATH"],
        "ENV_FILE": "",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "ALLOWED_HOSTS": "shop.example",
        "OMISE_PUBLIC_KEY": fake_live_key("pkey_"),
        "OMISE_SECRET_KEY": fake_live_key("skey_"),
        "OMISE_WEBHOOK_SECRET": secrets.token_bytes(32).hex(),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        "DJANGO_SETTINGS_MODULE": "config.settings",
        **extra,
    }


PRODUCTION = {
    "SECRET_KEY": "a-long-random-production-value-" + "k" * 30,
    "ALLOWED_HOSTS": "shop.example",
    "OMISE_PUBLIC_KEY": "pkey_test_" + "5" * 19,
    "OMISE_SECRET_KEY": "skey_test_" + "5" * 19,
    "OMISE_WEBHOOK_SECRET": "c2VjcmV0LWZvci10ZXN0cy1vbmx5",
}


def load_settings(env: dict[str, str], tmp_path: Path, expr: str = "settings.DEBUG"):
    """Import config.settings in a clean interpreter with exactly `env`, print `expr`."""
    clean = {
        "PATH": os.environ["PATH"],
        "ENV_FILE": "",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        "DJANGO_SETTINGS_MODULE": "config.settings",
        **env,
    }
    code = f"import django; from django.conf import settings; django.setup(); print({expr})"
    return subprocess.run(  # noqa: S603 - our own interpreter and code
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=clean,
        capture_output=True,
        text=True,
        timeout=60,
    )
