"""The sandbox's API and vault pinned to omise-api.md: object shapes, ids, statuses, failure
and error codes, the test cards, 3-D Secure, keys, limits. Raw HTTP where the client would hide
what is on the wire."""

import json
import re
import secrets

import pytest
import requests

from checkout.omise import OmiseAPIError
from sandbox.models import ReceivedRequest, Token

pytestmark = pytest.mark.django_db(transaction=True)

CHARGE_FIELDS = {
    "object",
    "id",
    "livemode",
    "amount",
    "currency",
    "status",
    "authorized",
    "paid",
    "capturable",
    "reversible",
    "refundable",
    "voided",
    "expired",
    "authorize_uri",
    "return_uri",
    "failure_code",
    "failure_message",
    "card",
    "transaction",
    "refunded_amount",
    "metadata",
    "ip",
    "description",
    "created_at",
    "paid_at",
}
TOKEN_CARD_FIELDS = {
    "brand",
    "last_digits",
    "name",
    "expiration_month",
    "expiration_year",
    "fingerprint",
    "country",
    "city",
    "postal_code",
}


def raw(sandbox, method, path, *, key=None, vault=False, **kwargs):
    base = sandbox.vault_url if vault else sandbox.api_url
    if key is None:
        key = sandbox.settings.OMISE_PUBLIC_KEY if vault else sandbox.settings.OMISE_SECRET_KEY
    with requests.Session() as http:
        http.trust_env = False
        return http.request(method, base + path, auth=(key, ""), timeout=10, **kwargs)


# --- tokens --------------------------------------------------------------------------------
def test_token_has_omise_shape_and_no_card_number(sandbox):
    """A token is `tokn_test_…`, unused, with the card's brand, last digits and fingerprint;
    neither the number nor the security code is echoed or stored."""
    token = sandbox.client.create_token(card=sandbox.card("5555555555554444", postal_code="10110"))
    assert re.fullmatch(r"tokn_test_[0-9a-z]{19}", token["id"])
    assert token["object"] == "token" and token["used"] is False and token["livemode"] is False
    assert set(token["card"]) >= TOKEN_CARD_FIELDS
    assert token["card"]["brand"] == "MasterCard" and token["card"]["last_digits"] == "4444"
    stored = json.dumps(
        [list(Token.objects.values()), list(ReceivedRequest.objects.values())], default=str
    )
    for text in (json.dumps(token), stored):
        assert "5555555555554444" not in text and '"123"' not in text


def test_same_card_same_fingerprint(sandbox):
    """The fingerprint identifies a card across tokens and differs between cards."""

    def fingerprint(number):
        return sandbox.client.create_token(card=sandbox.card(number))["card"]["fingerprint"]

    assert fingerprint("4242424242424242") == fingerprint("4242424242424242")
    assert fingerprint("4242424242424242") != fingerprint("5555555555554444")


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"number": "4242424242424241"}, "number is invalid"),
        ({"name": ""}, "name can't be blank"),
        ({"expiration_month": 13}, "expiration month"),
        ({"expiration_year": 2020, "expiration_month": 1}, "cannot be in the past"),
        ({"security_code": ""}, "security code is invalid"),
    ],
    ids=["luhn", "name", "month", "past", "cvv"],
)
def test_invalid_card_fields_are_refused(sandbox, fields, message):
    """Card validation fails with Omise's `invalid_card` (400) and a message naming the field."""
    response = raw(sandbox, "POST", "/tokens", vault=True, json={"card": sandbox.card(**fields)})
    assert response.status_code == 400
    body = response.json()
    assert body["object"] == "error" and body["code"] == "invalid_card"
    assert message in body["message"]


def test_vault_accepts_form_encoding_and_answers_cors(sandbox):
    """Form-encoded `card[...]` works as with Omise, and the vault answers CORS preflights so
    Omise.js can call it from the shop's origin."""
    card = {f"card[{k}]": v for k, v in sandbox.card().items()}
    response = raw(sandbox, "POST", "/tokens", vault=True, data=card)
    assert response.status_code == 200 and response.json()["object"] == "token"
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    preflight = requests.options(
        f"{sandbox.vault_url}/tokens",
        timeout=5,
        headers={
            "Origin": sandbox.url,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization,content-type",
        },
    )
    assert preflight.status_code == 204
    assert "Authorization" in preflight.headers["Access-Control-Allow-Headers"]


# --- keys ----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("vault", "key_name", "expect"),
    [
        (False, None, 200),
        (False, "public", 401),
        (False, "missing", 401),
        (False, "other", 401),
        (True, "secret", 401),
    ],
)
def test_only_this_projects_test_keys_are_accepted(sandbox, vault, key_name, expect):
    """The API takes the secret key, the vault the public key; anything else is
    `authentication_failure` (401)."""
    keys = {
        "public": sandbox.settings.OMISE_PUBLIC_KEY,
        "secret": sandbox.settings.OMISE_SECRET_KEY,
        "missing": "",
        "other": "skey_test_fakesomeoneelse0000",
        None: None,
    }
    path = "/tokens" if vault else "/account"
    method = "POST" if vault else "GET"
    response = raw(
        sandbox,
        method,
        path,
        vault=vault,
        key=keys[key_name],
        json={"card": sandbox.card()} if vault else None,
    )
    assert response.status_code == expect
    if expect == 401:
        assert response.json()["code"] == "authentication_failure"


def test_live_looking_key_is_refused_with_a_clear_message(sandbox):
    """A key without `_test_` is refused, and the message says this sandbox takes test keys."""
    live_looking = "skey_" + secrets.token_hex(10)  # made here: no key shape in tracked files
    response = raw(sandbox, "GET", "/account", key=live_looking)
    assert response.status_code == 401
    body = response.json()
    assert body["code"] == "authentication_failure" and "test keys" in body["message"]
    assert live_looking not in response.text


# --- charges -------------------------------------------------------------------------------
def test_successful_charge_shape(sandbox):
    """A test card charge is `chrg_test_…`, successful, authorized and paid, with Omise's
    fields, card summary, metadata and a `charge.create` event."""
    charge = sandbox.client.create_charge(
        amount=129000,
        currency="THB",
        card=sandbox.token("3530111333300000"),
        metadata={"order_id": "9"},
        ip="198.51.100.7",
    )
    assert set(charge) >= CHARGE_FIELDS
    assert re.fullmatch(r"chrg_test_[0-9a-z]{19}", charge["id"])
    assert (charge["status"], charge["authorized"], charge["paid"]) == ("successful", True, True)
    assert charge["authorize_uri"] is None and charge["failure_code"] is None
    assert charge["livemode"] is False and charge["currency"] == "thb"
    assert charge["card"]["brand"] == "JCB" and charge["card"]["last_digits"] == "0000"
    assert charge["metadata"] == {"order_id": "9"} and charge["ip"] == "198.51.100.7"
    assert [e["key"] for e in sandbox.events()] == ["charge.create"]
    assert re.fullmatch(r"evnt_test_[0-9a-z]{19}", sandbox.events()[0]["id"])


@pytest.mark.parametrize(
    ("number", "failure_code"),
    [
        ("4111111111140011", "insufficient_fund"),
        ("4111111111130012", "stolen_or_lost_card"),
        ("4111111111120013", "failed_processing"),
        ("4111111111110014", "payment_rejected"),
        ("4111111111190016", "failed_fraud_check"),
        ("4111111111180017", "invalid_account_number"),
        ("4111111111160001", "invalid_security_code"),
        ("4111111111150002", "failed_processing"),  # 3-D Secure enrollment fails
    ],
)
def test_decline_cards_give_failed_charges(sandbox, number, failure_code):
    """Each decline test card gives HTTP 200, status failed, not authorized or paid, and its
    failure_code with a message."""
    response = raw(
        sandbox,
        "POST",
        "/charges",
        json={
            "amount": 20000,
            "currency": "thb",
            "card": sandbox.token(number),
            "return_uri": "http://localhost/back",
        },
    )
    assert response.status_code == 200
    charge = response.json()
    assert (charge["status"], charge["authorized"], charge["paid"]) == ("failed", False, False)
    assert charge["failure_code"] == failure_code and charge["failure_message"]
    assert charge["authorize_uri"] is None


@pytest.mark.parametrize(
    ("amount", "ok"), [(1999, False), (2000, True), (15_000_000, True), (15_000_001, False)]
)
def test_thb_amount_limits(sandbox, amount, ok):
    """THB charges take 2,000 to 15,000,000 satang; outside, `invalid_charge`."""
    response = raw(
        sandbox,
        "POST",
        "/charges",
        json={"amount": amount, "currency": "THB", "card": sandbox.token()},
    )
    assert response.status_code == (200 if ok else 400)
    if not ok:
        assert response.json()["code"] == "invalid_charge"


@pytest.mark.parametrize(
    ("params", "code", "status"),
    [
        ({"amount": "12.5"}, "invalid_charge", 400),
        ({"currency": "usd"}, "invalid_charge", 400),
        ({"card": "tokn_test_doesnotexist0000"}, "not_found", 404),
        ({"card": None}, "invalid_charge", 400),
        ({"metadata": "order-1"}, "bad_request", 400),
    ],
    ids=["amount", "currency", "token", "no-card", "metadata"],
)
def test_charge_parameter_errors(sandbox, params, code, status):
    """Bad charge parameters give Omise's error object with the matching code."""
    body = {"amount": 20000, "currency": "thb", "card": sandbox.token(), **params}
    response = raw(sandbox, "POST", "/charges", json=body)
    assert response.status_code == status
    assert response.json()["object"] == "error" and response.json()["code"] == code


def test_charge_accepts_form_encoding(sandbox):
    """Form-encoded charge parameters (metadata[key]) are understood like JSON."""
    response = raw(
        sandbox,
        "POST",
        "/charges",
        data={
            "amount": "20000",
            "currency": "thb",
            "card": sandbox.token(),
            "metadata[order_id]": "77",
            "capture": "false",
        },
    )
    charge = response.json()
    assert charge["metadata"] == {"order_id": "77"} and charge["status"] == "pending"


def test_authorize_then_capture_then_refuse_second_capture(sandbox):
    """capture=false: pending, authorized, capturable; captured once: successful and paid;
    capturing again: `failed_capture`."""
    charge = sandbox.client.create_charge(
        amount=30000, currency="THB", card=sandbox.token(), capture=False
    )
    assert (charge["status"], charge["authorized"], charge["paid"], charge["capturable"]) == (
        "pending",
        True,
        False,
        True,
    )
    captured = sandbox.client.capture_charge(charge["id"])
    assert (captured["status"], captured["paid"], captured["capturable"]) == (
        "successful",
        True,
        False,
    )
    with pytest.raises(OmiseAPIError) as caught:
        sandbox.client.capture_charge(charge["id"])
    assert caught.value.code == "failed_capture"
    assert [e["key"] for e in sandbox.events()] == ["charge.create", "charge.capture"]


def test_paid_charge_cannot_be_reversed(sandbox):
    """Only an uncaptured authorization can be reversed; a paid charge: `invalid_charge`."""
    charge = sandbox.client.create_charge(amount=30000, currency="THB", card=sandbox.token())
    with pytest.raises(OmiseAPIError) as caught:
        sandbox.client.reverse_charge(charge["id"])
    assert caught.value.code == "invalid_charge"


def test_refunds_add_up_to_the_charge_at_most(sandbox):
    """Partial refunds are `rfnd_test_…` objects; more than what is left is `failed_refund`;
    a failed charge cannot be refunded."""
    charge = sandbox.client.create_charge(amount=30000, currency="THB", card=sandbox.token())
    refund = sandbox.client.create_refund(charge["id"], amount=10000)
    assert re.fullmatch(r"rfnd_test_[0-9a-z]{19}", refund["id"])
    assert refund["charge"] == charge["id"] and refund["currency"] == "thb"
    sandbox.client.create_refund(charge["id"], amount=20000)
    with pytest.raises(OmiseAPIError) as caught:
        sandbox.client.create_refund(charge["id"], amount=1)
    assert caught.value.code == "failed_refund"
    after = sandbox.client.retrieve_charge(charge["id"])
    assert after["refunded_amount"] == 30000 and after["refundable"] is False
    assert after["refunds"]["total"] == 2
    declined = sandbox.client.create_charge(
        amount=30000, currency="THB", card=sandbox.token("4111111111140011")
    )
    with pytest.raises(OmiseAPIError) as caught:
        sandbox.client.create_refund(declined["id"], amount=100)
    assert caught.value.code == "failed_refund"


def test_lists_have_omise_shape_and_cap_limit(sandbox):
    """Lists are `{object: list, data, total, limit, offset}`; limit is capped at 100."""
    for _ in range(3):
        sandbox.client.create_charge(amount=20000, currency="THB", card=sandbox.token())
    listing = raw(sandbox, "GET", "/charges", params={"limit": 500, "offset": 1}).json()
    assert listing["object"] == "list" and listing["total"] == 3
    assert listing["limit"] == 100 and listing["offset"] == 1 and len(listing["data"]) == 2


def test_unknown_api_path_is_a_json_not_found(sandbox):
    """Any unknown API path answers Omise's `not_found` error object, not an HTML page."""
    response = raw(sandbox, "GET", "/charges/chrg_live_abc/../../account/x")
    assert response.status_code == 404 and response.json()["code"] == "not_found"


# --- 3-D Secure ----------------------------------------------------------------------------
def test_3ds_card_gives_pending_charge_with_authorize_uri(sandbox):
    """The 3-D Secure test card gives pending, not authorized, an authorize_uri on the sandbox's
    origin, and keeps the return_uri."""
    charge = sandbox.client.create_charge(
        amount=20000,
        currency="THB",
        card=sandbox.token("4000000000000002"),
        return_uri=f"{sandbox.url}/orders/1/return?t=x",
    )
    assert (charge["status"], charge["authorized"], charge["paid"]) == ("pending", False, False)
    assert charge["authorize_uri"] == f"{sandbox.sandbox_url}/sandbox/3ds/{charge['id']}/"
    assert charge["return_uri"] == f"{sandbox.url}/orders/1/return?t=x"


def test_3ds_needs_a_return_uri(sandbox):
    """A charge that needs 3-D Secure without return_uri is `invalid_charge`, token unused."""
    token = sandbox.token("4000000000000002")
    with pytest.raises(OmiseAPIError) as caught:
        sandbox.client.create_charge(amount=20000, currency="THB", card=token)
    assert caught.value.code == "invalid_charge"
    assert Token.objects.get(id=token).used is False


@pytest.mark.parametrize(
    ("number", "authorize", "status", "failure_code"),
    [
        ("4000000000000002", True, "successful", None),
        ("4000000000000002", False, "failed", "failed_processing"),
        ("4111111111140003", True, "failed", "failed_processing"),  # validation fails
    ],
)
def test_3ds_page_settles_the_charge_and_returns(sandbox, number, authorize, status, failure_code):
    """On the 3-D Secure page, Authorize or Fail settles the charge (validation-failing card:
    always failed), emits `charge.complete`, and redirects to the return_uri unchanged."""
    return_uri = f"{sandbox.url}/orders/5/return?token=abc"
    charge = sandbox.client.create_charge(
        amount=20000, currency="THB", card=sandbox.token(number), return_uri=return_uri
    )
    assert sandbox.complete_3ds(charge, authorize=authorize) == return_uri
    settled = sandbox.client.retrieve_charge(charge["id"])
    assert settled["status"] == status and settled["failure_code"] == failure_code
    assert settled["paid"] is (status == "successful")
    assert [e["key"] for e in sandbox.events()] == ["charge.create", "charge.complete"]


def test_3ds_applies_to_every_card_when_the_account_enforces_it(sandbox, settings):
    """SANDBOX_3DS="all" plays an account with 3-D Secure enforced: 4242 goes through it."""
    settings.SANDBOX_3DS = "all"
    charge = sandbox.client.create_charge(
        amount=20000, currency="THB", card=sandbox.token(), return_uri=f"{sandbox.url}/r"
    )
    assert charge["status"] == "pending" and charge["authorize_uri"]


def test_expire_and_mark_as_failed_settle_a_waiting_charge(sandbox):
    """Test-mode endpoints settle a charge still waiting for the shopper: expire → expired,
    mark_as_failed → failed; a settled charge cannot be expired."""

    def waiting():
        return sandbox.client.create_charge(
            amount=20000,
            currency="THB",
            card=sandbox.token("4000000000000002"),
            return_uri=f"{sandbox.url}/r",
        )

    expired = sandbox.expire(waiting()["id"])
    assert expired["status"] == "expired" and expired["expired"] is True
    failed = sandbox.mark_as_failed(waiting()["id"])
    assert failed["status"] == "failed" and failed["failure_code"] == "payment_rejected"
    with pytest.raises(AssertionError, match="invalid_charge"):
        sandbox.expire(expired["id"])
