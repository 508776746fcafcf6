"""Settings: development works with nothing set; production refuses to start incomplete."""

import os
import subprocess
import sys

import pytest

from tests.support import PRODUCTION, ROOT, load_settings


def test_development_needs_nothing_set(tmp_path):
    """With DEBUG=true and nothing else, the settings load and the sandbox is on."""
    result = load_settings({"DEBUG": "true"}, tmp_path, "settings.OMISE_SANDBOX")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "True"


def test_debug_defaults_to_off(tmp_path):
    """A host that forgets DEBUG gets production mode, never debug pages."""
    result = load_settings(PRODUCTION, tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"


def test_production_refuses_to_start_with_nothing_set(tmp_path):
    """Production without configuration stops with one message naming every missing variable."""
    result = load_settings({}, tmp_path)
    assert result.returncode != 0
    for name in PRODUCTION:
        assert name in result.stderr
    assert "ImproperlyConfigured" in result.stderr
    assert ".env.example" in result.stderr


@pytest.mark.parametrize("name", sorted(PRODUCTION))
def test_production_refuses_each_missing_value(tmp_path, name):
    """Each required production variable is refused on its own when missing."""
    env = {k: v for k, v in PRODUCTION.items() if k != name}
    result = load_settings(env, tmp_path)
    assert result.returncode != 0
    assert f"variables: {name}." in result.stderr


def test_sandbox_cannot_run_in_production(tmp_path):
    """Asking for the sandbox with DEBUG off is refused: production always talks to Omise."""
    result = load_settings({**PRODUCTION, "OMISE_SANDBOX": "true"}, tmp_path)
    assert result.returncode != 0
    assert "OMISE_SANDBOX is a development tool" in result.stderr


def test_production_talks_to_the_real_omise_hosts(tmp_path):
    """Without overrides, production's base URLs are Omise's own hosts."""
    result = load_settings(
        PRODUCTION,
        tmp_path,
        "settings.OMISE_API_URL, settings.OMISE_VAULT_URL, settings.OMISE_JS_URL",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == (
        "https://api.omise.co https://vault.omise.co https://cdn.omise.co/omise.js"
    )


def test_sandbox_keys_are_generated_test_keys(tmp_path):
    """In development the sandbox keys are generated `_test_` keys, never written in code."""
    result = load_settings(
        {"DEBUG": "true", "SECRET_KEY": "dev-" + "z" * 40},
        tmp_path,
        "settings.OMISE_PUBLIC_KEY, settings.OMISE_SECRET_KEY",
    )
    public, secret = result.stdout.split()
    assert public.startswith("pkey_test_") and secret.startswith("skey_test_")
    other = load_settings(
        {"DEBUG": "true", "SECRET_KEY": "dev-" + "y" * 40}, tmp_path, "settings.OMISE_SECRET_KEY"
    )
    assert other.stdout.strip() != secret


def test_env_file_is_read_but_real_environment_wins(tmp_path):
    """Values in .env apply, and a real environment variable overrides the file."""
    env_file = tmp_path / ".env"
    env_file.write_text("DEBUG=true\nPORT=9123\n")
    result = load_settings({"ENV_FILE": str(env_file)}, tmp_path, "settings.SHOP_ORIGIN")
    assert result.stdout.strip() == "http://127.0.0.1:9123"
    result = load_settings(
        {"ENV_FILE": str(env_file), "PORT": "9000"}, tmp_path, "settings.SHOP_ORIGIN"
    )
    assert result.stdout.strip() == "http://127.0.0.1:9000"


def test_production_mounts_no_sandbox(tmp_path):
    """A production configuration neither installs the sandbox app nor routes /sandbox/, and
    loading the whole URLconf imports no sandbox module: production code never imports it."""
    code = (
        "import sys, django; from django.conf import settings; django.setup()\n"
        "import config.urls\n"
        "from django.urls import Resolver404, resolve\n"
        "try:\n    resolve('/sandbox/omise.js'); routed = True\n"
        "except Resolver404:\n    routed = False\n"
        "print('sandbox' in settings.INSTALLED_APPS, routed,"
        " any(m == 'sandbox' or m.startswith('sandbox.') for m in sys.modules))"
    )
    env = {
        "PATH": os.environ["PATH"],
        "ENV_FILE": "",
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        **PRODUCTION,
    }
    result = subprocess.run(  # noqa: S603 - our own interpreter and code
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["False", "False", "False"]
