"""The sandbox's payment methods over HTTP, pinned to docs/omise-api.md "Payment methods":
`GET /capability`, `GET /sources/{id}`, and for each new source type its real flow (mobile
banking's app hand-off, wallets, installments with term and minimum checks), expiry and the
events a shop's webhook receives. Internet banking is refused (discontinued 2025-09-30)."""

from datetime import timedelta

import pytest
import requests

from sandbox import sources

pytestmark = pytest.mark.django_db(transaction=True)

AMOUNT = 1_290_000  # ฿12,900.00: every installment issuer has a plan for it


def http(method: str, url: str, **kwargs) -> requests.Response:
    with requests.Session() as session:
        session.trust_env = False  # straight to the live server, whatever proxy is set
        return session.request(method, url, timeout=10, **kwargs)


def raw(sandbox, method, path, *, public=False, **kwargs):
    key = sandbox.settings.OMISE_PUBLIC_KEY if public else sandbox.settings.OMISE_SECRET_KEY
    return http(method, f"{sandbox.api_url}{path}", auth=(key, ""), **kwargs)


def new_source(sandbox, **params):
    return raw(sandbox, "POST", "/sources", public=True, json={"currency": "THB", **params})


def charge_of(sandbox, source_type: str, amount: int = AMOUNT, **fields) -> dict:
    source = sandbox.source(source_type, amount=amount, **fields)
    return sandbox.client.create_charge(
        amount=amount,
        currency="THB",
        source=source,
        return_uri="https://shop.example/orders/return/",
    )


# --- the capability ---------------------------------------------------------------------------


@pytest.mark.parametrize("public", [False, True], ids=["secret key", "public key"])
def test_capability_has_omises_shape_with_either_key(sandbox, public):
    """`GET /capability` answers the capability object (either key, as Omise's docs say), with
    every modelled method, installment terms per issuer and the account's limits."""
    body = raw(sandbox, "GET", "/capability", public=public).json()
    assert body["object"] == "capability" and body["country"] == "TH"
    names = [m["name"] for m in body["payment_methods"]]
    assert names == list(sources.ALL_METHODS)
    assert not any(name.startswith("internet_banking") for name in names)
    kbank = next(m for m in body["payment_methods"] if m["name"] == "installment_kbank")
    assert kbank["installment_terms"] == [3, 4, 6, 10] and kbank["currencies"] == ["THB"]
    assert body["limits"]["charge_amount"] == {"min": 2000, "max": 15_000_000}
    assert body["limits"]["installment_amount"] == {"min": 200000}
    assert body["zero_interest_installments"] is False


def test_capability_lists_only_the_methods_the_account_is_given(sandbox, settings):
    """SANDBOX_PAYMENT_METHODS makes another account; a source of a type it lacks is refused."""
    settings.SANDBOX_PAYMENT_METHODS = ["card", "promptpay", "truemoney"]
    settings.SANDBOX_ZERO_INTEREST_INSTALLMENTS = True
    body = sandbox.client.capability()
    assert [m["name"] for m in body["payment_methods"]] == ["card", "promptpay", "truemoney"]
    assert body["zero_interest_installments"] is True
    refused = new_source(sandbox, type="mobile_banking_kbank", amount=AMOUNT)
    assert refused.status_code == 400 and "not enabled" in refused.json()["message"]


def test_capability_refuses_a_wrong_key(sandbox):
    response = http("GET", f"{sandbox.api_url}/capability", auth=("skey_test_nope", ""))
    assert response.status_code == 401 and response.json()["code"] == "authentication_failure"


# --- sources ----------------------------------------------------------------------------------


def test_internet_banking_sources_are_refused(sandbox):
    response = new_source(sandbox, type="internet_banking_bbl", amount=AMOUNT)
    assert response.status_code == 400
    assert "discontinued" in response.json()["message"]


def test_a_source_is_read_back_with_the_secret_key_only(sandbox):
    """`GET /sources/{id}`: the shop reads what the browser created; the public key cannot."""
    source = sandbox.source("installment_kbank", amount=AMOUNT, installment_term=6)
    body = sandbox.client.retrieve_source(source)
    assert (body["object"], body["id"], body["type"]) == ("source", source, "installment_kbank")
    assert (body["amount"], body["currency"], body["installment_term"]) == (AMOUNT, "thb", 6)
    assert body["zero_interest_installments"] is False and body["flow"] == "redirect"
    assert raw(sandbox, "GET", f"/sources/{source}", public=True).status_code == 401
    missing = raw(sandbox, "GET", "/sources/src_test_" + "0" * 19)
    assert missing.status_code == 404 and missing.json()["code"] == "not_found"


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({"type": "installment_kbank"}, "bad_request"),  # no term
        ({"type": "installment_kbank", "installment_term": "six"}, "bad_request"),
        ({"type": "installment_kbank", "installment_term": 9}, "bad_request"),  # not KBank's
        # ฿12,900 over 10 months is ฿1,290 a month, under the ฿2,000 minimum
        ({"type": "installment_kbank", "installment_term": 10}, "invalid_amount"),
        ({"type": "truemoney"}, "invalid_phone_number"),
        ({"type": "truemoney", "phone_number": "0212345678"}, "invalid_phone_number"),  # landline
        ({"type": "truemoney", "phone_number": "08123"}, "invalid_phone_number"),
        ({"type": "mobile_banking_nope"}, "bad_request"),
    ],
)
def test_method_fields_are_checked(sandbox, params, code):
    response = new_source(sandbox, amount=AMOUNT, **params)
    assert response.status_code == 400 and response.json()["code"] == code, response.json()


@pytest.mark.parametrize("phone", ["0812345678", "081-234-5678", "+66812345678", "096 123 4567"])
def test_truemoney_takes_a_thai_mobile_number(sandbox, phone):
    response = new_source(sandbox, type="truemoney", amount=AMOUNT, phone_number=phone)
    assert response.status_code == 200
    assert response.json()["phone_number"] == phone.replace(" ", "").replace("-", "")


# --- flows --------------------------------------------------------------------------------------

OFFSITE_TYPES = [*sources.MOBILE_BANKING, *sources.WALLETS, "installment_first_choice"]


def fields_for(source_type: str) -> dict:
    if source_type == "truemoney":
        return {"phone_number": "0812345678"}
    if source_type.startswith("installment_"):
        return {"installment_term": 3}
    return {}


@pytest.mark.parametrize("source_type", OFFSITE_TYPES)
def test_each_offsite_type_pays_through_its_handoff_page(sandbox, source_type):
    """Every new type: a pending charge with an authorize_uri to the hand-off page and an
    expiry; Pay there makes it successful, returns to return_uri and records
    charge.complete."""
    charge = charge_of(sandbox, source_type, **fields_for(source_type))
    assert (charge["status"], charge["authorized"], charge["paid"]) == ("pending", False, False)
    assert charge["source"]["type"] == source_type and charge["expires_at"]
    assert charge["authorize_uri"].startswith(f"{sandbox.sandbox_url}/sandbox/app/")
    back = sandbox.complete_offsite(charge["authorize_uri"], "pay")
    assert back == "https://shop.example/orders/return/"
    settled = sandbox.client.retrieve_charge(charge["id"])
    assert (settled["status"], settled["paid"]) == ("successful", True)
    assert sandbox.events("charge.complete")[-1]["data"]["id"] == charge["id"]


def test_cancel_in_the_app_fails_the_charge(sandbox):
    charge = charge_of(sandbox, "mobile_banking_scb")
    sandbox.complete_offsite(charge["authorize_uri"], "cancel")
    settled = sandbox.client.retrieve_charge(charge["id"])
    assert (settled["status"], settled["failure_code"]) == ("failed", "payment_cancelled")


def test_timeout_in_the_app_expires_the_charge(sandbox):
    charge = charge_of(sandbox, "rabbit_linepay")
    sandbox.complete_offsite(charge["authorize_uri"], "timeout")
    settled = sandbox.client.retrieve_charge(charge["id"])
    assert (settled["status"], settled["expired"]) == ("expired", True)
    assert sandbox.events("charge.expire")[-1]["data"]["id"] == charge["id"]


def test_a_settled_handoff_page_only_goes_back(sandbox):
    """A second press (another tab, the back button) changes nothing."""
    charge = charge_of(sandbox, "shopeepay")
    sandbox.complete_offsite(charge["authorize_uri"], "pay")
    page = http("GET", charge["authorize_uri"])
    assert "no longer awaiting the shopper" in page.text
    assert sandbox.client.retrieve_charge(charge["id"])["status"] == "successful"


def test_offsite_charges_need_a_return_uri(sandbox):
    source = sandbox.source("mobile_banking_kbank", amount=AMOUNT)
    response = raw(
        sandbox, "POST", "/charges", json={"amount": AMOUNT, "currency": "THB", "source": source}
    )
    assert response.status_code == 400 and response.json()["code"] == "invalid_charge"


def test_the_handoff_page_is_only_for_offsite_charges(sandbox):
    """A PromptPay charge is paid by scanning, not on the hand-off page."""
    source = sandbox.source("promptpay", amount=AMOUNT)
    charge = sandbox.client.create_charge(amount=AMOUNT, currency="THB", source=source)
    page = http("GET", f"{sandbox.sandbox_url}/sandbox/app/{charge['id']}/")
    assert page.status_code == 404


def test_an_offsite_charge_left_alone_expires_at_its_time(sandbox, monkeypatch):
    """Nobody pays in the app: past its expires_at the charge expires the next time anyone
    looks, with charge.expire, and its hand-off page only leads back."""
    monkeypatch.setattr(sources, "DEFAULT_OFFSITE_EXPIRY", timedelta(0))
    charge = charge_of(sandbox, "mobile_banking_ktb")
    settled = sandbox.client.retrieve_charge(charge["id"])
    assert (settled["status"], settled["expired"]) == ("expired", True)
    assert sandbox.events("charge.expire")[-1]["data"]["id"] == charge["id"]
    assert "no longer awaiting the shopper" in http("GET", charge["authorize_uri"]).text


def test_events_of_the_new_types_reach_the_shop_signed(sandbox):
    """charge.create and charge.complete of a wallet charge are delivered to the shop's
    webhook, signed (the shop answers 2xx only to a valid signature)."""
    charge = charge_of(sandbox, "truemoney", phone_number="0812345678")
    sandbox.complete_offsite(charge["authorize_uri"], "pay")
    deliveries = sandbox.deliver_webhooks()
    assert {d["key"] for d in deliveries} >= {"charge.create", "charge.complete"}
    assert {d["status_code"] for d in deliveries} == {200}
