"""Merchant-operations settings: OMISE_CAPTURE takes "automatic" (the default) or "manual" and
refuses anything else at start-up; the dispute deadline settings are read as numbers."""

import pytest

from tests.support import load_settings


def test_capture_is_automatic_unless_asked(tmp_path):
    result = load_settings({"DEBUG": "true"}, tmp_path, "settings.OMISE_CAPTURE")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "automatic"


@pytest.mark.parametrize("value", ["Manual", "later", "false", ""])
def test_an_unknown_capture_mode_refuses_to_start(tmp_path, value):
    """A typo must not silently capture every card at once (or never)."""
    result = load_settings({"DEBUG": "true", "OMISE_CAPTURE": value}, tmp_path)
    assert result.returncode != 0
    assert "OMISE_CAPTURE must be 'automatic' or 'manual'" in result.stderr


def test_dispute_settings_and_staff_addresses(tmp_path):
    env = {
        "DEBUG": "true",
        "OMISE_CAPTURE": "manual",
        "DISPUTE_RESPOND_WITHIN_DAYS": "10",
        "STAFF_NOTIFY_EMAILS": "a@example.com,b@example.com",
    }
    expr = (
        "settings.OMISE_CAPTURE, settings.DISPUTE_RESPOND_WITHIN_DAYS, "
        "settings.DISPUTE_WARN_DAYS, settings.STAFF_NOTIFY_EMAILS"
    )
    result = load_settings(env, tmp_path, expr)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "manual 10 2 ['a@example.com', 'b@example.com']"
