"""System checks refuse misplaced, mismatched or mis-moded Omise keys, without printing them."""

import secrets

import pytest
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.test import override_settings

from security.checks import (
    check_omise_keys,
    check_otp_throttling,
    key_mode,
    mask_key,
)


def key(kind: str, mode: str) -> str:
    """A freshly generated key of Omise's shape (never a real one, never stored in the repo)."""
    return f"{kind}_{'test_' if mode == 'test' else ''}{secrets.token_hex(10)}"


def production(**keys):
    """Settings of a production host with the given keys (live ones unless told otherwise)."""
    values = {
        "DEBUG": False,
        "OMISE_SANDBOX": False,
        "OMISE_PUBLIC_KEY": key("pkey", "live"),
        "OMISE_SECRET_KEY": key("skey", "live"),
        "OMISE_WEBHOOK_SECRET": secrets.token_urlsafe(32),
    }
    values.update(keys)
    return override_settings(**values)


def ids(messages) -> list[str]:
    return [message.id for message in messages]


def test_production_with_live_keys_passes():
    """Production with a matching pair of live keys raises nothing at all."""
    with production():
        assert check_omise_keys() == []


def test_development_sandbox_keys_pass():
    """Development (sandbox, generated test keys, DEBUG on) raises nothing."""
    with override_settings(DEBUG=True):  # pytest-django runs tests with DEBUG off
        assert check_omise_keys() == []


@pytest.mark.parametrize(
    "missing", ["OMISE_PUBLIC_KEY", "OMISE_SECRET_KEY", "OMISE_WEBHOOK_SECRET"]
)
def test_production_without_a_key_is_an_error(missing):
    """A production host missing any of the three keys fails with shop.E001 naming it."""
    with production(**{missing: ""}):
        [error] = check_omise_keys()
    assert error.id == "shop.E001" and missing in error.msg


def test_secret_key_in_the_public_key_variable_is_an_error():
    """Swapped keys would publish the secret key in the checkout page: shop.E002."""
    public, secret = key("pkey", "live"), key("skey", "live")
    with production(OMISE_PUBLIC_KEY=secret, OMISE_SECRET_KEY=public):
        errors = check_omise_keys()
    assert ids(errors) == ["shop.E002", "shop.E002"]
    assert "sent to every browser" in errors[0].msg


def test_unknown_key_shape_is_an_error():
    """Something that is not an Omise key at all (a stray quote, a placeholder) is refused."""
    with production(OMISE_SECRET_KEY="changeme"):
        assert ids(check_omise_keys()) == ["shop.E002"]


@pytest.mark.parametrize(("public_mode", "secret_mode"), [("test", "live"), ("live", "test")])
def test_test_and_live_keys_mixed_is_an_error(public_mode, secret_mode):
    """A test public key with a live secret key (or the reverse) is shop.E003."""
    with production(
        OMISE_PUBLIC_KEY=key("pkey", public_mode), OMISE_SECRET_KEY=key("skey", secret_mode)
    ):
        assert "shop.E003" in ids(check_omise_keys())


def test_live_key_with_debug_on_is_an_error():
    """Live keys on a DEBUG host (debug pages show settings) are shop.E004."""
    with override_settings(
        DEBUG=True, OMISE_PUBLIC_KEY=key("pkey", "live"), OMISE_SECRET_KEY=key("skey", "live")
    ):
        assert ids(check_omise_keys()) == ["shop.E004"]


def test_test_keys_in_production_is_a_warning():
    """Test keys with DEBUG off work (staging) but warn: shop.W001, and nothing else."""
    with production(OMISE_PUBLIC_KEY=key("pkey", "test"), OMISE_SECRET_KEY=key("skey", "test")):
        messages = check_omise_keys()
    assert ids(messages) == ["shop.W001"]
    assert messages[0].level == 30  # WARNING: `check --deploy --fail-level WARNING` fails


def test_messages_never_contain_the_keys():
    """Whatever the problem, no check message or hint repeats a key."""
    public, secret = key("skey", "live"), key("pkey", "test")  # swapped *and* mixed
    with override_settings(DEBUG=True, OMISE_PUBLIC_KEY=public, OMISE_SECRET_KEY=secret):
        messages = check_omise_keys()
    assert messages
    text = " ".join(f"{m.msg} {m.hint}" for m in messages)
    assert public not in text and secret not in text
    assert public[-12:] not in text and secret[-12:] not in text


@pytest.mark.django_db  # `check` also runs the database checks
def test_manage_py_check_refuses_swapped_keys():
    """`manage.py check` (run before every deploy and by runserver) stops on these errors."""
    swapped = production(OMISE_PUBLIC_KEY=key("skey", "live"), OMISE_SECRET_KEY=key("pkey", "live"))
    with swapped, pytest.raises(SystemCheckError, match="shop.E002"):
        call_command("check")


@pytest.mark.parametrize("name", ["OTP_TOTP_THROTTLE_FACTOR", "OTP_STATIC_THROTTLE_FACTOR"])
def test_disabled_otp_throttling_is_an_error(name):
    """Setting a 2FA throttle factor to 0 (unlimited guesses) is shop.E005."""
    assert check_otp_throttling() == []
    with override_settings(**{name: 0}):
        assert ids(check_otp_throttling()) == ["shop.E005"]


def test_key_mode_and_mask():
    """The `_test_` infix decides the mode; a masked key keeps its kind and last 4 only."""
    live, test = key("skey", "live"), key("pkey", "test")
    assert key_mode(live) == "live" and key_mode(test) == "test"
    assert mask_key(live) == f"skey_…{live[-4:]}"
    assert mask_key(test) == f"pkey_test_…{test[-4:]}"
    assert mask_key("") == "(empty)"
