"""`manage.py omise_contract` against the sandbox: every check holds, so the sandbox agrees
with what the shop relies on; a sandbox that answers differently is named, check by check;
live keys are refused before anything is sent."""

import io

import pytest
from django.core.management import CommandError, call_command

from checkout.contract import CHECKS

pytestmark = pytest.mark.django_db(transaction=True)


def run() -> str:
    out = io.StringIO()
    call_command("omise_contract", stdout=out)
    return out.getvalue()


def test_the_sandbox_keeps_the_contract(sandbox):
    out = run()
    assert f"All {len(CHECKS)} checks hold." in out
    assert "FAIL" not in out
    # It really exercised the API: capture, reverse, refund, a dispute, both keys.
    for endpoint in ("charges.capture", "charges.reverse", "refunds.create", "charges.dispute"):
        assert sandbox.requests(endpoint), endpoint
    assert sandbox.last_request("sources.create")["type"] == "promptpay"


def test_a_sandbox_that_answers_differently_is_named(sandbox, monkeypatch):
    """A capture that ignores capture_amount (what Omise might do): the partial-capture check
    fails with the difference, the others hold, and the command exits non-zero."""
    from sandbox.services import charges

    real = charges.capture_charge

    def ignoring_amount(*, charge_id, params=None):
        return real(charge_id=charge_id, params={})

    monkeypatch.setattr("sandbox.api.capture_charge", ignoring_amount)
    out = io.StringIO()
    with pytest.raises(CommandError, match="partial capture") as failed:
        call_command("omise_contract", stdout=out)
    assert "1 of" in str(failed.value) or "2 of" in str(failed.value)
    assert "FAIL partial capture" in out.getvalue()
    assert "captured_amount: expected 10000, got 12345" in out.getvalue()
    assert "ok   refund" in out.getvalue()


def test_live_keys_are_refused_before_any_call(sandbox, settings):
    before = len(sandbox.requests())
    settings.OMISE_SECRET_KEY = "skey_" + "5" * 24
    with pytest.raises(CommandError, match="test keys"):
        run()
    assert len(sandbox.requests()) == before
