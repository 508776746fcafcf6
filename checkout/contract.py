"""The contract between this shop and Omise's API: a scripted set of calls whose answers are
compared with what the shop's code relies on (docs/omise-api.md), field by field.

Run by `manage.py omise_contract` against the configured API: the test suite runs it against
the sandbox, and a merchant with Omise *test* keys runs it against Omise, to learn at once
where the sandbox, or this repository's assumptions, differ from the real thing.

Threats it stops: a sandbox that agrees with the shop's mistakes (both written here), so that
every test passes and the first real charge does something else; an API change (a field
renamed, a code changed) noticed only in production. Safety: it makes charges, refunds and
disputes, so it refuses anything but test keys (`skey_test_…`), and only ever tokenizes
Omise's published test card numbers.

Each check is a small function taking the `Contract` (clients and what earlier checks made)
and raising `Broken` with what differed. Test-mode-only endpoints (sources with the public
key, `POST /charges/{id}/disputes`) are called through the client's transport; the shop's own
code never calls them.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta

from django.utils import timezone

from checkout.omise import OmiseAPIError, OmiseClient, OmiseError

AMOUNT = 12_345  # ฿123.45: above THB's minimum, and odd, so a rounded answer shows
# Omise's published test cards; the 3-D Secure one fails validation *after* the bank's page,
# so at creation it is pending with an authorize_uri, at Omise as in the sandbox.
CARD_OK, CARD_DECLINED, CARD_3DS = "4242424242424242", "4111111111140011", "4111111111140003"
RETURN_URI = "https://example.com/omise-contract/return"
CHARGE_ID = re.compile(r"^chrg_test_[0-9a-z]+$")


class Broken(Exception):
    """An answer differed from what the shop relies on; the message says how."""


@dataclass
class Result:
    name: str
    relies_on: str
    ok: bool
    detail: str = ""


@dataclass
class Contract:
    api: OmiseClient  # secret key: the API as the shop calls it
    public: OmiseClient  # public key: the vault and sources, as Omise.js calls them
    made: dict = field(default_factory=dict)  # ids made by earlier checks

    def token(self, number: str) -> str:
        card = {
            "name": "OMISE CONTRACT",
            "number": number,
            "expiration_month": 12,
            "expiration_year": date.today().year + 3,
            "security_code": "123",
        }
        return self.api.create_token(card=card)["id"]

    def charge(self, number: str = CARD_OK, **extra) -> dict:
        return self.api.create_charge(
            amount=AMOUNT,
            currency="THB",
            card=self.token(number),
            return_uri=RETURN_URI,
            metadata={"order_reference": "CONTRACT", "run": self.made["run"]},
            **extra,
        )


def expect(what: str, seen, wanted) -> None:
    if seen != wanted:
        raise Broken(f"{what}: expected {wanted!r}, got {seen!r}")


def expect_approved(charge: dict, status: str) -> None:
    if charge.get("status") == "pending" and charge.get("authorize_uri"):
        raise Broken(
            "the charge waits for 3-D Secure: this account enforces it on every card; run the "
            "contract with an account (or test mode) that does not"
        )
    expect("status", charge.get("status"), status)


def expect_error(call: Callable[[], object], code: str, status: int | None = None) -> None:
    try:
        call()
    except OmiseAPIError as error:
        expect("error code", error.code, code)
        if status is not None:
            expect("HTTP status", error.http_status, status)
        return
    raise Broken(f"expected Omise's error {code!r}, got an answer")


# --- the checks, in order --------------------------------------------------------------------


def check_account(c: Contract) -> None:
    account = c.api.retrieve_account()
    expect("object", account.get("object"), "account")
    expect("livemode", account.get("livemode"), False)


def check_token(c: Contract) -> None:
    token = c.api.create_token(
        card={
            "name": "OMISE CONTRACT",
            "number": CARD_OK,
            "expiration_month": 12,
            "expiration_year": date.today().year + 3,
            "security_code": "123",
        }
    )
    expect("object", token.get("object"), "token")
    expect("id prefix", str(token.get("id", ""))[:10], "tokn_test_")
    card = token.get("card") or {}
    expect("card.last_digits", card.get("last_digits"), "4242")
    if "number" in card or "security_code" in card:
        raise Broken("the token's card carries its number or security code")


def check_charge_successful(c: Contract) -> None:
    charge = c.charge()
    if not CHARGE_ID.match(str(charge.get("id"))):
        raise Broken(f"charge id {charge.get('id')!r} is not chrg_test_…")
    expect_approved(charge, "successful")
    expect("authorized, paid", (charge.get("authorized"), charge.get("paid")), (True, True))
    expect("amount", charge.get("amount"), AMOUNT)
    expect("currency (lower case)", charge.get("currency"), "thb")
    expect("metadata echoed", (charge.get("metadata") or {}).get("run"), c.made["run"])
    expect("card.last_digits", (charge.get("card") or {}).get("last_digits"), "4242")
    c.made["paid"] = charge["id"]


def check_charge_declined(c: Contract) -> None:
    charge = c.charge(CARD_DECLINED)  # a decline is an answer (HTTP 200), not an error
    expect("status", charge.get("status"), "failed")
    expect("failure_code", charge.get("failure_code"), "insufficient_fund")
    expect("paid", charge.get("paid"), False)


def check_charge_3ds(c: Contract) -> None:
    charge = c.charge(CARD_3DS)
    expect("status", charge.get("status"), "pending")
    expect("authorized", charge.get("authorized"), False)
    if not str(charge.get("authorize_uri") or "").startswith(("https://", "http://")):
        raise Broken(f"authorize_uri is {charge.get('authorize_uri')!r}, not a URL")
    c.made["pending_3ds"] = charge["id"]


def check_retrieve(c: Contract) -> None:
    charge = c.api.retrieve_charge(c.made["paid"])
    expect("id", charge.get("id"), c.made["paid"])
    expect("status", charge.get("status"), "successful")


def check_expire(c: Contract) -> None:
    charge = c.api.expire_charge(c.made["pending_3ds"])
    expect("status", charge.get("status"), "expired")
    expect_error(lambda: c.api.expire_charge(c.made["paid"]), "invalid_charge")


def check_source_promptpay(c: Contract) -> None:
    source = c.public._request(
        "POST", "/sources", json={"type": "promptpay", "amount": AMOUNT, "currency": "THB"}
    )
    expect("object", source.get("object"), "source")
    expect("flow", source.get("flow"), "offline")
    charge = c.api.create_charge(amount=AMOUNT, currency="THB", source=source["id"])
    expect("status", charge.get("status"), "pending")
    image = ((charge.get("source") or {}).get("scannable_code") or {}).get("image") or {}
    if not str(image.get("download_uri") or "").startswith(("https://", "http://")):
        raise Broken("source.scannable_code.image.download_uri is not a URL")
    if not charge.get("expires_at"):
        raise Broken("a PromptPay charge has no expires_at")


def check_authorize_only(c: Contract) -> None:
    charge = c.charge(capture=False)
    expect_approved(charge, "pending")
    expect("authorized, paid", (charge.get("authorized"), charge.get("paid")), (True, False))
    expect("capturable", charge.get("capturable"), True)
    if not charge.get("expires_at"):
        raise Broken("an authorization has no expires_at (the shop's capture deadline)")
    c.made["authorized"] = charge["id"]


def check_capture_partial(c: Contract) -> None:
    part = AMOUNT - 2_345
    charge = c.api.capture_charge(c.made["authorized"], amount=part)
    expect("status", charge.get("status"), "successful")
    expect("paid", charge.get("paid"), True)
    # The shop accepts the authorized amount in either field after a partial capture.
    if AMOUNT not in {charge.get("amount"), charge.get("authorized_amount")}:
        raise Broken("neither amount nor authorized_amount holds the authorized amount")
    captured = charge.get("captured_amount")
    if captured is None and charge.get("authorized_amount") == AMOUNT:
        captured = charge.get("amount")  # the other reading the shop accepts
    expect("captured_amount", captured, part)
    expect_error(lambda: c.api.capture_charge(c.made["authorized"]), "failed_capture")
    c.made["captured"] = (charge["id"], part)


def check_capture_full_and_over(c: Contract) -> None:
    charge = c.charge(capture=False)
    expect_error(lambda: c.api.capture_charge(charge["id"], amount=AMOUNT + 1), "failed_capture")
    captured = c.api.capture_charge(charge["id"])
    expect("status", captured.get("status"), "successful")


def check_reverse(c: Contract) -> None:
    charge = c.charge(capture=False)
    reversed_ = c.api.reverse_charge(charge["id"])
    expect("status", reversed_.get("status"), "reversed")
    expect_error(lambda: c.api.capture_charge(charge["id"]), "failed_capture")


def check_refund(c: Contract) -> None:
    refund = c.api.create_refund(c.made["paid"], amount=2_000, metadata={"run": c.made["run"]})
    expect("object", refund.get("object"), "refund")
    expect("id prefix", str(refund.get("id", ""))[:10], "rfnd_test_")
    expect("amount", refund.get("amount"), 2_000)
    expect("metadata echoed", (refund.get("metadata") or {}).get("run"), c.made["run"])
    charge = c.api.retrieve_charge(c.made["paid"])
    expect("charge.refunded_amount", charge.get("refunded_amount"), 2_000)
    expect_error(lambda: c.api.create_refund(c.made["paid"], amount=AMOUNT), "failed_refund", 400)
    listed = c.api.list_refunds(c.made["paid"])
    expect("refunds listed", [r.get("id") for r in listed.get("data") or []], [refund["id"]])


def check_lists(c: Contract) -> None:
    since = timezone.now() - timedelta(minutes=30)
    charges = c.api.list_charges(from_time=since, limit=2, order="chronological")
    expect("object", charges.get("object"), "list")
    expect("limit", charges.get("limit"), 2)
    if len(charges.get("data") or []) != 2 or int(charges.get("total") or 0) < 5:
        raise Broken("a charge list of 2 from the last 30 minutes did not page")
    page_1 = c.api.list_events(from_time=since, limit=1, offset=0)
    page_2 = c.api.list_events(from_time=since, limit=1, offset=1)
    ids = [e.get("id") for e in (page_1.get("data") or []) + (page_2.get("data") or [])]
    if len(ids) != 2 or ids[0] == ids[1]:
        raise Broken(f"events did not page with offset and limit: {ids}")
    event = c.api.retrieve_event(ids[0])
    expect("event object", event.get("object"), "event")
    if not str(event.get("key", "")).startswith(("charge.", "refund.", "dispute.")):
        raise Broken(f"unexpected event key {event.get('key')!r}")
    keys = {e.get("key") for e in c.api.list_events(from_time=since, limit=100).get("data") or []}
    missing = {"charge.create", "charge.capture", "charge.reverse", "refund.create"} - keys
    if missing:
        raise Broken(f"no event with key {', '.join(sorted(missing))} was listed")


def check_dispute(c: Contract) -> None:
    dispute = c.api._request("POST", f"/charges/{c.made['paid']}/disputes")  # test mode only
    expect("object", dispute.get("object"), "dispute")
    expect("status", dispute.get("status"), "open")
    expect("charge", dispute.get("charge"), c.made["paid"])
    fetched = c.api.retrieve_dispute(dispute["id"])
    expect("retrieved id", fetched.get("id"), dispute["id"])
    answered = c.api.update_dispute(dispute["id"], message="Contract check: delivered.")
    expect("message", answered.get("message"), "Contract check: delivered.")


def check_errors(c: Contract) -> None:
    expect_error(lambda: c.api.retrieve_charge("chrg_test_nonexistent0000000"), "not_found", 404)
    token = c.token(CARD_OK)
    c.api.create_charge(amount=AMOUNT, currency="THB", card=token)
    expect_error(
        lambda: c.api.create_charge(amount=AMOUNT, currency="THB", card=token), "used_token"
    )
    expect_error(
        lambda: c.api.create_charge(amount=100, currency="THB", card=c.token(CARD_OK)),
        "invalid_charge",
    )
    wrong = OmiseClient(
        secret_key="skey_test_" + "0" * 19,
        public_key=c.public._public_key,
        api_url=c.api.api_url,
        vault_url=c.api.vault_url,
    )
    try:
        expect_error(wrong.retrieve_account, "authentication_failure", 401)
    finally:
        wrong.close()


CHECKS: list[tuple[str, str, Callable[[Contract], None]]] = [
    ("account", "GET /account answers for a test key", check_account),
    ("token", "the vault tokenizes a test card and never echoes it", check_token),
    (
        "charge successful",
        "status, flags, amount, lower-case currency, metadata",
        check_charge_successful,
    ),
    ("charge declined", "a decline is a 200 failed charge with its code", check_charge_declined),
    ("charge 3-D Secure", "pending, not authorized, with authorize_uri", check_charge_3ds),
    ("retrieve", "GET /charges/{id} returns the charge as it is", check_retrieve),
    ("expire", "a pending charge expires; a paid one cannot", check_expire),
    ("source PromptPay", "public-key source, QR code, expires_at", check_source_promptpay),
    (
        "authorize only",
        "capture=false: pending, authorized, capturable, expires_at",
        check_authorize_only,
    ),
    (
        "partial capture",
        "capture_amount takes part; captured_amount says how much",
        check_capture_partial,
    ),
    ("capture", "over-capture refused; full capture", check_capture_full_and_over),
    ("reverse", "an authorization is released and cannot be captured", check_reverse),
    ("refund", "partial refund, refunded_amount, over-refund refused, listed", check_refund),
    ("lists", "charges and events page with from/offset/limit; event keys", check_lists),
    ("dispute", "test-mode dispute, retrieved and answered", check_dispute),
    ("errors", "not_found, used_token, invalid_charge, authentication_failure", check_errors),
]


def contract_run(*, api: OmiseClient, public: OmiseClient) -> list[Result]:
    """Run every check in order; a check whose prerequisite failed fails as well."""
    contract = Contract(api=api, public=public, made={"run": secrets.token_hex(4)})
    results = []
    for name, relies_on, check in CHECKS:
        try:
            check(contract)
        except Broken as broken:
            results.append(Result(name, relies_on, False, str(broken)))
        except KeyError as missing:
            results.append(Result(name, relies_on, False, f"needs {missing} from a check above"))
        except OmiseError as error:
            results.append(Result(name, relies_on, False, f"{type(error).__name__}: {error}"))
        else:
            results.append(Result(name, relies_on, True))
    return results
