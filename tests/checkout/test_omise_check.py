"""`manage.py omise_check` proves the keys work, shows mode and egress, and never shows secrets."""

import io
import secrets

import pytest
from django.core.management import CommandError, call_command

from checkout.management.commands.omise_check import proxy_for_display
from checkout.omise import OmiseClient


@pytest.fixture(autouse=True)
def _no_retry_wait(monkeypatch):
    monkeypatch.setattr(OmiseClient, "BACKOFF_SECONDS", 0)


def run_check() -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command("omise_check", stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_working_keys_report_mode_account_and_direct_egress(sandbox, settings):
    """Against the sandbox: test mode, the account's id, direct egress, and no secret key."""
    out, _ = run_check()
    assert "Mode:    test (offline sandbox)" in out
    assert "Egress:  direct" in out
    assert "Account: acct_" in out
    assert "OK: both keys work in test mode." in out
    assert settings.OMISE_SECRET_KEY not in out
    assert settings.OMISE_SECRET_KEY[10:-4] not in out
    assert f"skey_test_…{settings.OMISE_SECRET_KEY[-4:]}" in out


def test_refused_secret_key_fails_clearly(sandbox, settings, monkeypatch):
    """A secret key Omise does not know: non-zero exit naming authentication_failure."""
    unknown = "skey_test_" + secrets.token_hex(10)  # well-formed, but not this account's key
    client = OmiseClient(
        secret_key=unknown,
        public_key=settings.OMISE_PUBLIC_KEY,
        api_url=sandbox.api_url,
        vault_url=sandbox.vault_url,
    )
    monkeypatch.setattr("checkout.management.commands.omise_check.get_client", lambda: client)
    with pytest.raises(CommandError, match="authentication_failure") as refused:
        run_check()
    assert unknown not in str(refused.value)


def test_refused_public_key_fails_clearly(sandbox, settings, monkeypatch):
    """A public key the vault does not know: non-zero exit naming the public key, after the
    secret key was accepted; the vault was asked with an empty card, never a card number."""
    unknown = "pkey_test_" + secrets.token_hex(10)
    client = OmiseClient(
        secret_key=settings.OMISE_SECRET_KEY,
        public_key=unknown,
        api_url=sandbox.api_url,
        vault_url=sandbox.vault_url,
    )
    monkeypatch.setattr("checkout.management.commands.omise_check.get_client", lambda: client)
    with pytest.raises(CommandError, match="vault refused the public key") as refused:
        run_check()
    assert unknown not in str(refused.value)
    assert [r.params for r in sandbox.requests("tokens.create")] == [{"card_fields": []}]


def test_unreachable_api_fails_clearly(sandbox, settings):
    """Nothing listening at the API URL: non-zero exit saying Omise could not be reached."""
    settings.OMISE_API_URL = "http://127.0.0.1:9/sandbox/api"
    with pytest.raises(CommandError, match="Could not reach Omise directly"):
        run_check()


def test_proxy_is_shown_without_its_credentials(sandbox, settings):
    """With OMISE_PROXY_URL the egress line names the proxy, never its password."""
    password = secrets.token_urlsafe(12)
    settings.OMISE_PROXY_URL = f"http://fixie:{password}@127.0.0.1:9"
    out = io.StringIO()
    with pytest.raises(CommandError, match="through the proxy") as failed:
        call_command("omise_check", stdout=out, stderr=io.StringIO())
    assert "Egress:  via proxy http://127.0.0.1:9" in out.getvalue()
    assert password not in out.getvalue() + str(failed.value)


def test_swapped_keys_stop_before_any_request(sandbox, settings):
    """Keys in the wrong variables fail the key checks, and nothing is sent to Omise."""
    settings.OMISE_PUBLIC_KEY, settings.OMISE_SECRET_KEY = (
        settings.OMISE_SECRET_KEY,
        settings.OMISE_PUBLIC_KEY,
    )
    before = len(sandbox.requests("account.retrieve"))
    with pytest.raises(CommandError, match="nothing was sent"):
        run_check()
    assert len(sandbox.requests("account.retrieve")) == before


def test_proxy_display_drops_user_and_password():
    """proxy_for_display keeps scheme, host and port only."""
    assert proxy_for_display("http://u:p@proxy.example:3128/x?y") == "http://proxy.example:3128"
    assert proxy_for_display("https://[::1]:8443") == "https://[::1]:8443"


def test_the_accounts_methods_are_shown(sandbox, settings):
    """The account's capability: each method, installment terms, whether this shop offers it
    and its refund rule; the copy read is cached for the checkout."""
    settings.SANDBOX_PAYMENT_METHODS = ["card", "promptpay", "mobile_banking_kbank"]
    out, _ = run_check()
    assert "Methods: charges 2000–15000000 minor units" in out
    assert "  card " in out and "mobile_banking_kbank" in out and "K PLUS" in out
    assert "truemoney" not in out
    from checkout.capability import capability_get

    assert capability_get().methods.keys() == {"card", "promptpay", "mobile_banking_kbank"}


def test_a_capability_that_cannot_be_read_is_reported_not_fatal(sandbox):
    sandbox.fault("capability.retrieve", status=500, count=3)
    out, err = run_check()
    assert "could not read the account's capability" in err
    assert "OK: both keys work in test mode." in out
