"""An in-process fake Omise: what the payment code calls on `checkout.omise.OmiseClient`, with
no HTTP and no live server, for unit tests of charge_apply, the order's state and the flows
around them. The `fake_omise` fixture puts it behind `get_client()` (tests/conftest.py lists
this module in `pytest_plugins`).

    def test_pay(fake_omise):
        charge = fake_omise.create_charge(amount=129000, currency="THB",
                                          card=fake_omise.token())
        assert charge["status"] == "successful"
        assert fake_omise.last_call("create_charge")["amount"] == 129000

What it keeps honest:

- Same method names and signatures as OmiseClient (checked by tests/checkout/
  test_charge_apply.py), the same argument checks (an int amount, exactly one of card or
  source, well-formed ids: `OmiseInvalidId` before any "request"), and Omise's answers as plain
  dicts in its wire format: `chrg_test_…` ids, lower-case currency, `status`, `authorized`,
  `paid`, `authorize_uri`, `failure_code`, `metadata`, `refunded_amount`, `refunds`, ISO times.
  Every answer is a fresh copy, as a JSON response would be.
- Omise's rules where the shop depends on them: a token is single use and must exist (tokens
  made by `token()`, whose test card numbers behave as in docs/sandbox.md), THB only, ฿20 to
  ฿150,000, only a pending charge expires, only an authorized uncaptured one is reversed or
  captured (in part with `amount`, never more than authorized, `expired_charge` once its
  seven-day hold has passed), a refund only of a paid charge and never beyond what was
  captured; disputes retrieved, answered (`pending`) and accepted (`lost`) as the sandbox's.
  A broken rule raises the real `OmiseAPIError` with Omise's code and HTTP status.
- Every call is recorded (`calls`, `calls_of`, `last_call`) with its arguments as sent, so a
  test can fail on what was (not) asked of Omise.
- `fail_next(method, error)` makes the next call(s) of a method raise (`OmiseNetworkError`,
  `OmiseAPIError`), before or `after=True` the call took effect (a charge made whose answer was
  lost). A failure scheduled but never reached fails the test at teardown.
- State changes Omise makes on its own are the test's to make: `settle(charge_id,
  status=...)`, `complete_3ds(...)`, `open_dispute(charge_id)`, `close_dispute(id, status=)`,
  each recording the event Omise would (`events`, `retrieve_event`, `list_events`).
"""

from __future__ import annotations

import copy
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest

from checkout import omise
from checkout.omise import OmiseAPIError, OmiseNetworkError, _check_id
from sandbox.cards import (
    DECLINE_PREFIX,
    FAILURE_MESSAGES,
    SUCCESS,
    THREE_DS,
    THREE_DS_ENROLLMENT_FAILS,
    THREE_DS_VALIDATION_FAILS,
    behaviour_of,
)

THB_MIN, THB_MAX = 2000, 15_000_000
# How long an authorization (capture=false) holds, as the sandbox's (docs/sandbox.md).
AUTHORIZATION_HOLD = timedelta(days=7)
SUPPORTED_CURRENCIES = {"thb"}
_ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyz"
# Where get_client()'s settings point while the fake stands in: nothing listens on port 9, so a
# real client that slipped past the patch fails at once instead of reaching a sandbox.
UNREACHABLE_URL = "http://127.0.0.1:9/fake-omise-no-http"

# Omise's test cards (docs/sandbox.md): number → what a charge with it does.
SETTLE_STATUSES = {"successful", "failed", "expired", "reversed", "pending"}
# OmiseClient's methods the fake answers (the payment code calls these).
API_METHODS = (
    "create_charge",
    "retrieve_charge",
    "capture_charge",
    "expire_charge",
    "reverse_charge",
    "list_charges",
    "create_refund",
    "list_refunds",
    "retrieve_event",
    "list_events",
    "retrieve_dispute",
    "update_dispute",
    "accept_dispute",
    "retrieve_account",
    "create_token",
    "retrieve_source",
    "capability",
)


def default_capability() -> dict:
    """The fake account's `GET /capability`: cards, PromptPay, K PLUS, TrueMoney and KBank
    installments (3/4/6/10 months, each month at least ฿2,000). Tests change
    `fake_omise.capability_data` to make another account."""

    def method(name: str, terms=None) -> dict:
        return {
            "object": "payment_method",
            "name": name,
            "currencies": ["THB"],
            "card_brands": [],
            "installment_terms": terms,
            "banks": [],
            "provider": None,
        }

    return {
        "object": "capability",
        "country": "TH",
        "limits": {
            "charge_amount": {"min": THB_MIN, "max": THB_MAX},
            "installment_amount": {"min": 200000},
        },
        "payment_methods": [
            method("card"),
            method("promptpay"),
            method("mobile_banking_kbank"),
            method("truemoney"),
            method("installment_kbank", [3, 4, 6, 10]),
        ],
        "zero_interest_installments": False,
    }


def new_id(prefix: str) -> str:
    return f"{prefix}_test_" + "".join(secrets.choice(_ALPHABET) for _ in range(19))


def iso(moment: datetime | None) -> str | None:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if moment else None


def _error(code: str, message: str, status: int = 400) -> OmiseAPIError:
    return OmiseAPIError(
        code=code,
        message=message,
        http_status=status,
        location=f"https://www.omise.co/api-errors#{code.replace('_', '-')}",
    )


def _fresh(error: Exception) -> Exception:
    """A new instance of a scheduled error, so each raise has its own traceback."""
    if isinstance(error, OmiseAPIError):
        return OmiseAPIError(
            code=error.code,
            message=error.message,
            http_status=error.http_status,
            location=error.location,
        )
    return OmiseNetworkError(str(error), timed_out=error.timed_out)


def _brand(number: str) -> str:
    return {"4": "Visa", "5": "MasterCard", "3": "JCB"}.get(number[:1], "Visa")


@dataclass
class Call:
    """One call of the fake: the method and its arguments, as the caller passed them."""

    method: str
    params: dict

    def __getitem__(self, name):
        return self.params[name]


@dataclass
class _Failure:
    error: Exception
    after: bool
    remaining: int


@dataclass
class _Token:
    behaviour: str
    card: dict
    used: bool = False


@dataclass
class _ChargeState:
    """What the fake knows of a charge beyond its wire form."""

    data: dict
    created_at: datetime
    behaviour: str = SUCCESS
    refunds: list = field(default_factory=list)
    captured: int | None = None  # a partial capture's amount


class FakeOmise:
    """Stands in for `OmiseClient`; see the module's docstring."""

    def __init__(self, *, now=None):
        self._now = now or (lambda: datetime.now(UTC))
        self._charges: dict[str, _ChargeState] = {}
        self._tokens: dict[str, _Token] = {}
        self._sources: dict[str, dict] = {}
        self.capability_data: dict = default_capability()
        self._events: list[dict] = []
        self._disputes: dict[str, dict] = {}
        self._failures: dict[str, list[_Failure]] = {}
        self.calls: list[Call] = []
        # What code reading the client's configuration sees (never a real URL).
        self.api_url = self.vault_url = UNREACHABLE_URL
        self.timeout = (5.0, 30.0)
        self.get_retries = 0

    def __repr__(self) -> str:
        return f"FakeOmise({len(self._charges)} charges, {len(self.calls)} calls)"

    def close(self) -> None:
        pass

    # --- what a test sets up or reads ---------------------------------------------------------
    def token(self, number: str = "4242424242424242", **fields) -> str:
        """A fresh single-use `tokn_test_…`, behaving as `number` does in Omise's test mode
        (the same test cards as the sandbox: tests.shopping.pay works with the fake)."""
        # The sandbox's own table of Omise's test cards: one definition of what each does.
        behaviour = behaviour_of(number).removeprefix(DECLINE_PREFIX)
        token_id = new_id("tokn")
        self._tokens[token_id] = _Token(
            behaviour=behaviour,
            card={
                "object": "card",
                "id": new_id("card"),
                "livemode": False,
                "brand": _brand(number),
                "last_digits": number[-4:],
                "fingerprint": f"fp-{number[:6]}-{number[-4:]}",
                "name": fields.get("name", "T"),
                "country": "th",
                "financing": "credit",
                "bank": "Fake Bank",
                "expiration_month": 12,
                "expiration_year": 2040,
            },
        )
        return token_id

    def source(
        self, type: str = "promptpay", *, amount: int, currency: str = "THB", **fields
    ) -> str:
        """A fresh `src_test_…` for `amount` (PromptPay by default, or a redirect method), with
        a method's own `fields` as the browser would send them (`installment_term`,
        `phone_number`). The fake checks none of them: the shop must."""
        source_id = new_id("src")
        self._sources[source_id] = {
            "object": "source",
            "id": source_id,
            "livemode": False,
            "type": type,
            "flow": "offline" if type == "promptpay" else "redirect",
            "amount": amount,
            "currency": currency.lower(),
            "installment_term": fields.get("installment_term"),
            "phone_number": fields.get("phone_number"),
            "used": False,
        }
        return source_id

    def charge(self, charge_id: str) -> dict:
        """The charge as the fake holds it now (a copy), without recording a call."""
        return copy.deepcopy(self._state(charge_id).data)

    @property
    def charges(self) -> list[dict]:
        """Every charge, oldest first (copies)."""
        return [copy.deepcopy(s.data) for s in self._charges.values()]

    def events(self, key: str | None = None) -> list[dict]:
        return [copy.deepcopy(e) for e in self._events if key is None or e["key"] == key]

    def calls_of(self, method: str) -> list[Call]:
        self._known(method)
        return [call for call in self.calls if call.method == method]

    def last_call(self, method: str) -> Call:
        calls = self.calls_of(method)
        assert calls, f"the fake Omise received no {method} call"
        return calls[-1]

    def fail_next(
        self, method: str, error: Exception | None = None, *, after: bool = False, count: int = 1
    ) -> None:
        """The next `count` calls of `method` raise `error` (default: a timeout), before the call
        takes effect, or `after` it (the charge or refund exists; its answer was lost)."""
        self._known(method)
        if error is None:
            error = OmiseNetworkError(f"fake Omise {method} timed out", timed_out=True)
        if not isinstance(error, (OmiseAPIError, OmiseNetworkError)):
            raise TypeError("fail with the client's own errors: OmiseAPIError, OmiseNetworkError")
        self._failures.setdefault(method, []).append(_Failure(error, after, count))

    def pending_failures(self) -> dict[str, int]:
        """Failures scheduled and not reached yet, by method (the fixture fails on any left)."""
        return {m: sum(f.remaining for f in fs) for m, fs in self._failures.items() if fs}

    def clear_failures(self) -> None:
        self._failures.clear()

    def settle(
        self,
        charge_id: str,
        *,
        status: str = "successful",
        failure_code: str = "",
        failure_message: str = "",
        event: str = "charge.complete",
    ) -> dict:
        """Move a charge as Omise would on its own (a bank's answer, an expiry, a reversal),
        record the event it makes, and return the charge. `status="pending"` with
        `failure_code=""` puts it back awaiting the shopper, for stale-copy tests."""
        if status not in SETTLE_STATUSES:
            raise ValueError(f"status must be one of {sorted(SETTLE_STATUSES)}")
        state = self._state(charge_id)
        data, now = state.data, self._now()
        data["status"] = status
        data["failure_code"] = data["failure_message"] = None
        if status == "successful":
            data.update(
                authorized=True,
                paid=True,
                paid_at=iso(now),
                transaction=data["transaction"] or new_id("trxn"),
            )
        elif status == "failed":
            code = failure_code or "payment_rejected"
            data.update(
                authorized=False,
                paid=False,
                failure_code=code,
                failure_message=failure_message or FAILURE_MESSAGES.get(code, code),
            )
        elif status == "expired":
            data.update(authorized=False, paid=False, expired=True, expired_at=iso(now))
            event = "charge.expire" if event == "charge.complete" else event
        elif status == "reversed":
            data.update(reversed=True, voided=True, paid=False, reversed_at=iso(now))
            event = "charge.reverse" if event == "charge.complete" else event
        self._refresh(state)
        self._event(event, data)
        return copy.deepcopy(data)

    def open_dispute(self, charge_id: str, *, amount: int | None = None) -> dict:
        """A chargeback on a paid charge, as a bank opens it: records `dispute.create`."""
        data = self._state(charge_id).data
        if not data["paid"]:
            raise AssertionError(f"{charge_id} is not paid: it cannot be disputed")
        now = self._now()
        dispute_id = new_id("dspt")
        dispute = {
            "object": "dispute",
            "id": dispute_id,
            "livemode": False,
            "location": f"/disputes/{dispute_id}",
            "amount": amount or data["amount"],
            "currency": data["currency"],
            "status": "open",
            "reason_code": "goods_or_services_not_provided",
            "reason_message": "Services not provided or Merchandise not received",
            "message": None,
            "charge": charge_id,
            "transaction": new_id("trxn"),
            "metadata": {},
            "documents": {"object": "list", "data": [], "total": 0},
            "created_at": iso(now),
            "closed_at": None,
            "funding_amount": amount or data["amount"],
            "funding_currency": data["currency"],
            "admin_message": None,
        }
        self._disputes[dispute_id] = dispute
        self._event("dispute.create", dispute)
        return copy.deepcopy(dispute)

    def close_dispute(self, dispute_id: str, *, status: str = "won") -> dict:
        """The bank decides: won or lost (records `dispute.close`)."""
        if status not in {"won", "lost", "closed"}:
            raise ValueError("status must be won, lost or closed")
        dispute = self._disputes[dispute_id]
        dispute.update(status=status, closed_at=iso(self._now()))
        self._event("dispute.close", dispute)
        return copy.deepcopy(dispute)

    def complete_3ds(self, charge_id: str, *, passed: bool = True) -> dict:
        """The shopper at the bank: 3-D Secure passes (successful, or authorized only for a
        charge made with capture=false, unless the card's validation always fails) or fails."""
        state = self._state(charge_id)
        if state.data["status"] != "pending" or state.data["authorized"]:
            raise AssertionError(f"{charge_id} is not awaiting 3-D Secure")
        if passed and state.behaviour != THREE_DS_VALIDATION_FAILS:
            if not state.data["capture"]:
                state.data.update(
                    authorized=True,
                    authorize_uri=None,
                    expires_at=iso(self._now() + AUTHORIZATION_HOLD),
                )
                self._refresh(state)
                self._event("charge.complete", state.data)
                return copy.deepcopy(state.data)
            return self.settle(charge_id, status="successful")
        return self.settle(
            charge_id,
            status="failed",
            failure_code="failed_processing",
            failure_message="3-D Secure authentication failed",
        )

    # --- OmiseClient's API ------------------------------------------------------------------
    def create_charge(
        self,
        *,
        amount: int,
        currency: str,
        card: str | None = None,
        source: str | None = None,
        description: str = "",
        metadata: dict | None = None,
        return_uri: str | None = None,
        ip: str | None = None,
        capture: bool = True,
    ) -> dict:
        if not isinstance(amount, int) or isinstance(amount, bool):
            raise TypeError("amount must be an int in the currency's smallest unit")
        if (card is None) == (source is None):
            raise ValueError("pass exactly one of card (a token id) or source")
        if card is not None:
            _check_id("tokn", card)
        return self._call(
            "create_charge",
            dict(
                amount=amount,
                currency=currency,
                card=card,
                source=source,
                description=description,
                metadata=copy.deepcopy(metadata),
                return_uri=return_uri,
                ip=ip,
                capture=capture,
            ),
            lambda: self._create_charge(
                amount=amount,
                currency=currency,
                card=card,
                source=source,
                description=description,
                metadata=metadata,
                return_uri=return_uri,
                ip=ip,
                capture=capture,
            ),
        )

    def retrieve_charge(self, charge_id: str) -> dict:
        _check_id("chrg", charge_id)
        return self._call(
            "retrieve_charge", {"charge_id": charge_id}, lambda: self._found(charge_id).data
        )

    def capture_charge(self, charge_id: str, *, amount: int | None = None) -> dict:
        _check_id("chrg", charge_id)
        if amount is not None and (
            not isinstance(amount, int) or isinstance(amount, bool) or amount <= 0
        ):
            raise TypeError("amount must be a positive int in the currency's smallest unit")
        return self._call(
            "capture_charge",
            {"charge_id": charge_id, "amount": amount},
            lambda: self._capture(charge_id, amount),
        )

    def expire_charge(self, charge_id: str) -> dict:
        _check_id("chrg", charge_id)
        return self._call(
            "expire_charge", {"charge_id": charge_id}, lambda: self._expire(charge_id)
        )

    def reverse_charge(self, charge_id: str) -> dict:
        _check_id("chrg", charge_id)
        return self._call(
            "reverse_charge", {"charge_id": charge_id}, lambda: self._reverse(charge_id)
        )

    def list_charges(
        self,
        *,
        from_time: datetime | None = None,
        to_time: datetime | None = None,
        offset: int = 0,
        limit: int = 20,
        order: str = "reverse_chronological",
    ) -> dict:
        if not (int(offset) >= 0) or not (1 <= int(limit) <= 100):
            raise ValueError("offset must be >= 0 and limit between 1 and 100")
        if order not in {"chronological", "reverse_chronological"}:
            raise ValueError("order must be chronological or reverse_chronological")
        for moment in (from_time, to_time):
            if moment is not None and moment.tzinfo is None:
                raise ValueError("pass an aware datetime")

        def listing():
            states = [
                s
                for s in self._charges.values()
                # Omise's bounds are whole seconds (the client sends ISO 8601 without any).
                if (from_time is None or s.created_at >= from_time.replace(microsecond=0))
                and (to_time is None or s.created_at <= to_time.replace(microsecond=0))
            ]
            states.sort(key=lambda s: s.created_at, reverse=order == "reverse_chronological")
            return self._list([s.data for s in states], offset=offset, limit=limit, order=order)

        return self._call(
            "list_charges",
            dict(
                from_time=from_time,
                to_time=to_time,
                offset=offset,
                limit=limit,
                order=order,
            ),
            listing,
        )

    def create_refund(self, charge_id: str, *, amount: int, metadata: dict | None = None) -> dict:
        if not isinstance(amount, int) or isinstance(amount, bool):
            raise TypeError("amount must be an int in the currency's smallest unit")
        _check_id("chrg", charge_id)
        return self._call(
            "create_refund",
            {"charge_id": charge_id, "amount": amount, "metadata": copy.deepcopy(metadata)},
            lambda: self._refund(charge_id, amount, metadata or {}),
        )

    def list_refunds(self, charge_id: str, *, offset: int = 0, limit: int = 100) -> dict:
        if not (int(offset) >= 0) or not (1 <= int(limit) <= 100):
            raise ValueError("offset must be >= 0 and limit between 1 and 100")
        _check_id("chrg", charge_id)
        return self._call(
            "list_refunds",
            {"charge_id": charge_id, "offset": offset, "limit": limit},
            lambda: self._list(
                self._found(charge_id).refunds, offset=offset, limit=limit, order="chronological"
            ),
        )

    def retrieve_event(self, event_id: str) -> dict:
        _check_id("evnt", event_id)

        def find():
            for event in self._events:
                if event["id"] == event_id:
                    return event
            raise _error("not_found", f"event {event_id} was not found", 404)

        return self._call("retrieve_event", {"event_id": event_id}, find)

    def list_events(
        self,
        *,
        from_time: datetime | None = None,
        offset: int = 0,
        limit: int = 20,
        order: str = "chronological",
    ) -> dict:
        if not (int(offset) >= 0) or not (1 <= int(limit) <= 100):
            raise ValueError("offset must be >= 0 and limit between 1 and 100")
        if order not in {"chronological", "reverse_chronological"}:
            raise ValueError("order must be chronological or reverse_chronological")

        def listing():
            since = iso(from_time.replace(microsecond=0)) if from_time else None
            events = [e for e in self._events if since is None or e["created_at"] >= since]
            if order == "reverse_chronological":
                events.reverse()
            return self._list(events, offset=offset, limit=limit, order=order)

        return self._call(
            "list_events",
            {"from_time": from_time, "offset": offset, "limit": limit, "order": order},
            listing,
        )

    def retrieve_dispute(self, dispute_id: str) -> dict:
        _check_id("dspt", dispute_id)
        return self._call(
            "retrieve_dispute", {"dispute_id": dispute_id}, lambda: self._dispute(dispute_id)
        )

    def update_dispute(self, dispute_id: str, *, message: str) -> dict:
        _check_id("dspt", dispute_id)

        def update():
            dispute = self._dispute(dispute_id)
            if dispute["status"] not in {"open", "pending"}:
                raise _error("bad_request", "dispute is closed")
            dispute.update(message=message, status="pending")
            self._event("dispute.update", dispute)
            return dispute

        return self._call("update_dispute", {"dispute_id": dispute_id, "message": message}, update)

    def accept_dispute(self, dispute_id: str) -> dict:
        _check_id("dspt", dispute_id)

        def accept():
            dispute = self._dispute(dispute_id)
            if dispute["status"] != "open":
                raise _error("bad_request", "only an open dispute can be accepted")
            return self.close_dispute(dispute_id, status="lost")

        return self._call("accept_dispute", {"dispute_id": dispute_id}, accept)

    def retrieve_account(self) -> dict:
        return self._call(
            "retrieve_account",
            {},
            lambda: {
                "object": "account",
                "id": "acct_test_fakeomise0000000000",
                "livemode": False,
                "email": "merchant@example.com",
                "currency": "thb",
                "supported_currencies": ["thb"],
            },
        )

    def retrieve_source(self, source_id: str) -> dict:
        _check_id("src", source_id)

        def find():
            found = self._sources.get(source_id)
            if found is None:
                raise _error("not_found", f"source {source_id} was not found", 404)
            return {k: v for k, v in found.items() if k != "used"}

        return self._call("retrieve_source", {"source_id": source_id}, find)

    def capability(self) -> dict:
        return self._call("capability", {}, lambda: self.capability_data)

    def create_token(self, *, card: dict) -> dict:
        """Tooling only (the shop never tokenizes on the server): a token for `card`'s number."""

        def make():
            token_id = self.token(str(card.get("number") or "4242424242424242"))
            token = self._tokens[token_id]
            return {
                "object": "token",
                "id": token_id,
                "livemode": False,
                "used": False,
                "card": token.card,
                "created_at": iso(self._now()),
            }

        # The card fields are not recorded: a test's calls list must never hold a card number.
        return self._call("create_token", {"card": "(not recorded)"}, make)

    # --- internals --------------------------------------------------------------------------
    @staticmethod
    def _known(method: str) -> None:
        if method not in API_METHODS:
            raise AttributeError(f"OmiseClient has no API method {method!r}")

    def _call(self, method: str, params: dict, effect) -> dict:
        self.calls.append(Call(method, params))
        queue = self._failures.get(method) or []
        failure = queue[0] if queue else None
        if failure is not None:
            failure.remaining -= 1
            if failure.remaining <= 0:
                queue.pop(0)
            if not failure.after:
                raise _fresh(failure.error)
        result = copy.deepcopy(effect())
        if failure is not None:  # after: it took effect, the answer is lost
            raise _fresh(failure.error)
        return result

    def _state(self, charge_id: str) -> _ChargeState:
        state = self._charges.get(charge_id)
        if state is None:
            raise KeyError(f"the fake Omise has no charge {charge_id}")
        return state

    def _found(self, charge_id: str) -> _ChargeState:
        state = self._charges.get(charge_id)
        if state is None:
            raise _error("not_found", f"charge {charge_id} was not found", 404)
        self._expire_due(state)
        return state

    def _dispute(self, dispute_id: str) -> dict:
        dispute = self._disputes.get(dispute_id)
        if dispute is None:
            raise _error("not_found", f"dispute {dispute_id} was not found", 404)
        return dispute

    def _expire_due(self, state: _ChargeState) -> None:
        expires = state.data.get("expires_at")
        if state.data["status"] == "pending" and expires and expires <= iso(self._now()):
            self.settle(state.data["id"], status="expired")

    def _event(self, key: str, data: dict) -> dict:
        event = {
            "object": "event",
            "id": new_id("evnt"),
            "livemode": False,
            "location": None,
            "key": key,
            "created_at": iso(self._now()),
            "data": copy.deepcopy(data),
            "webhook_deliveries": [],
        }
        event["location"] = f"/events/{event['id']}"
        self._events.append(event)
        return event

    @staticmethod
    def _refresh(state: _ChargeState) -> None:
        """The fields Omise derives from the others."""
        data = state.data
        pending = data["status"] == "pending"
        captured = state.captured or data["amount"]
        data["authorized_amount"] = data["amount"] if data["authorized"] or data["paid"] else 0
        data["captured_amount"] = captured if data["paid"] else 0
        data["net"] = captured - data["refunded_amount"] if data["paid"] else 0
        data["capturable"] = pending and data["authorized"] and not data["capture"]
        data["reversible"] = pending and data["authorized"]
        data["refundable"] = data["paid"] and data["refunded_amount"] < captured
        data["disputable"] = data["paid"]
        data["refunds"] = {
            "object": "list",
            "data": copy.deepcopy(state.refunds),
            "limit": 20,
            "offset": 0,
            "total": len(state.refunds),
            "location": f"/charges/{data['id']}/refunds",
        }

    def _list(self, items: list, *, offset: int, limit: int, order: str) -> dict:
        return {
            "object": "list",
            "data": copy.deepcopy(items[offset : offset + limit]),
            "limit": limit,
            "offset": offset,
            "total": len(items),
            "order": order,
            "location": None,
        }

    def _create_charge(
        self, *, amount, currency, card, source, description, metadata, return_uri, ip, capture
    ) -> dict:
        currency = str(currency).lower()
        if currency not in SUPPORTED_CURRENCIES:
            raise _error("invalid_charge", "currency is currently not supported")
        if not THB_MIN <= amount <= THB_MAX:
            raise _error("invalid_charge", "amount must be between ฿20 and ฿150,000")
        if metadata is not None and not isinstance(metadata, dict):
            raise _error("bad_request", "metadata must be an object")
        now = self._now()
        charge_id = new_id("chrg")
        data = {
            "object": "charge",
            "id": charge_id,
            "location": f"/charges/{charge_id}",
            "livemode": False,
            "amount": amount,
            "net": 0,
            "fee": 0,
            "fee_vat": 0,
            "interest": 0,
            "interest_vat": 0,
            "funding_amount": amount,
            "refunded_amount": 0,
            "currency": currency,
            "funding_currency": currency,
            "description": description or None,
            "metadata": copy.deepcopy(metadata or {}),
            "card": None,
            "source": None,
            "customer": None,
            "schedule": None,
            "dispute": None,
            "link": None,
            "ip": ip or None,
            "transaction": None,
            "status": "pending",
            "authorized": False,
            "paid": False,
            "capture": bool(capture),
            "voided": False,
            "reversed": False,
            "expired": False,
            "authorize_uri": None,
            "return_uri": return_uri or None,
            "failure_code": None,
            "failure_message": None,
            "created_at": iso(now),
            "paid_at": None,
            "expires_at": None,
            "reversed_at": None,
            "expired_at": None,
        }
        state = _ChargeState(data=data, created_at=now.replace(microsecond=0))
        authorize_uri = f"{UNREACHABLE_URL}/pay/{charge_id}/authorize"
        if card is not None:
            token = self._tokens.get(card)
            if token is None:
                raise _error("not_found", f"token {card} was not found", 404)
            if token.behaviour in {THREE_DS, THREE_DS_VALIDATION_FAILS} and not return_uri:
                raise _error("invalid_charge", "return_uri is required for 3-D Secure charges")
            if token.used:
                raise _error("used_token", "token was already used")
            token.used = True
            state.behaviour, data["card"] = token.behaviour, copy.deepcopy(token.card)
            if token.behaviour in FAILURE_MESSAGES:
                data.update(
                    status="failed",
                    failure_code=token.behaviour,
                    failure_message=FAILURE_MESSAGES[token.behaviour],
                )
            elif token.behaviour == THREE_DS_ENROLLMENT_FAILS:
                data.update(
                    status="failed",
                    failure_code="failed_processing",
                    failure_message="3-D Secure enrollment failed",
                )
            elif token.behaviour in {THREE_DS, THREE_DS_VALIDATION_FAILS}:
                data["authorize_uri"] = authorize_uri
            else:
                data["authorized"] = True
                if capture:
                    data.update(
                        status="successful", paid=True, paid_at=iso(now), transaction=new_id("trxn")
                    )
                else:  # authorized only: capturable until the hold expires
                    data["expires_at"] = iso(now + AUTHORIZATION_HOLD)
        else:
            found = self._sources.get(source)
            if found is None:
                raise _error("not_found", f"source {source} was not found", 404)
            if (found["amount"], found["currency"]) != (amount, currency):
                raise _error("invalid_charge", "amount and currency must match the source's")
            if found["used"]:
                raise _error("invalid_charge", "source was already used for a charge")
            found["used"] = True
            source_data = {k: v for k, v in found.items() if k != "used"}
            if found["flow"] == "offline":
                source_data["scannable_code"] = {
                    "object": "barcode",
                    "type": "qr",
                    "image": {
                        "object": "document",
                        "id": new_id("docu"),
                        "filename": "qrcode.svg",
                        "download_uri": f"https://fake-omise.invalid/qr/{charge_id}.svg",
                    },
                }
                data["expires_at"] = iso(now + timedelta(days=1))
            else:
                if not return_uri:
                    raise _error("invalid_charge", "return_uri is required for redirect sources")
                data["authorize_uri"] = authorize_uri
            data["source"] = source_data
        self._refresh(state)
        self._charges[charge_id] = state
        self._event("charge.create", data)
        return data

    def _capture(self, charge_id: str, amount: int | None) -> dict:
        state = self._found(charge_id)  # an authorization past its hold expires first
        data = state.data
        if data["status"] == "expired":
            raise _error("expired_charge", "charge has expired and can no longer be captured")
        if not (data["status"] == "pending" and data["authorized"] and not data["capture"]):
            raise _error("failed_capture", "charge is not capturable")
        if amount is not None and amount > data["amount"]:
            raise _error("failed_capture", "capture_amount exceeds the authorized amount")
        data["capture"] = True
        if amount is not None and amount < data["amount"]:
            state.captured = amount
        self.settle(charge_id, status="successful", event="charge.capture")
        return data

    def _expire(self, charge_id: str) -> dict:
        state = self._found(charge_id)
        if state.data["status"] != "pending":
            raise _error("invalid_charge", "only a pending charge can expire")
        self.settle(charge_id, status="expired")
        return state.data

    def _reverse(self, charge_id: str) -> dict:
        state = self._found(charge_id)
        if not (state.data["status"] == "pending" and state.data["authorized"]):
            raise _error(
                "invalid_charge", "charge cannot be reversed: it is not authorized and uncaptured"
            )
        self.settle(charge_id, status="reversed")
        return state.data

    def _refund(self, charge_id: str, amount: int, metadata: dict) -> dict:
        state = self._found(charge_id)
        data = state.data
        if amount <= 0:
            raise _error("invalid_amount", "amount must be a positive integer")
        if not data["paid"] or data["status"] != "successful":
            raise _error("failed_refund", "charge is not paid: it cannot be refunded")
        if data["refunded_amount"] + amount > data["captured_amount"]:
            raise _error("failed_refund", "amount exceeds the refundable amount of the charge")
        refund_id = new_id("rfnd")
        refund = {
            "object": "refund",
            "id": refund_id,
            "location": f"/charges/{charge_id}/refunds/{refund_id}",
            "livemode": False,
            "amount": amount,
            "currency": data["currency"],
            "charge": charge_id,
            "transaction": new_id("trxn"),
            "voided": False,
            "status": "closed",
            "metadata": copy.deepcopy(metadata),
            "created_at": iso(self._now()),
        }
        state.refunds.append(refund)
        data["refunded_amount"] += amount
        self._refresh(state)
        self._event("refund.create", refund)
        return refund


# Modules known to call get_client() by the name they imported (`from checkout.omise import
# get_client`); any other module that did so is found in sys.modules as well.
CLIENT_USERS = (
    "checkout.capability",
    "checkout.services",
    "checkout.refunds",
    "checkout.events",
    "checkout.reconcile",
    "checkout.webhooks",
    "checkout.tasks",
    "checkout.management.commands.omise_check",
)


@pytest.fixture
def fake_omise(request, monkeypatch, settings):
    """A `FakeOmise` behind `checkout.omise.get_client()` and every module's imported copy of
    it, with settings pointing Omise's URLs nowhere: no HTTP, no sandbox, no live server (the
    test stays in the unit tier). Not with `sandbox` in the same test: one Omise at a time."""
    import importlib
    import sys

    if "sandbox" in request.fixturenames or "live_server" in request.fixturenames:
        raise pytest.UsageError("fake_omise and sandbox/live_server: pick one Omise")
    settings.OMISE_API_URL = settings.OMISE_VAULT_URL = UNREACHABLE_URL
    settings.OMISE_PROXY_URL = ""
    real = omise.get_client
    fake = FakeOmise()

    def get_client() -> FakeOmise:
        return fake

    for name in CLIENT_USERS:
        importlib.import_module(name)
    monkeypatch.setattr(omise, "get_client", get_client)
    patched = []
    for name, module in list(sys.modules.items()):
        if (
            name.startswith(("checkout", "shop", "security", "sandbox", "config", "tests"))
            and getattr(module, "get_client", None) is real
        ):
            monkeypatch.setattr(module, "get_client", get_client)
            patched.append(name)
    missing = set(CLIENT_USERS) - set(patched)
    assert not missing, f"get_client not patched in {sorted(missing)}"
    fake.patched_modules = sorted(patched)
    yield fake
    if failures := fake.pending_failures():
        pytest.fail(f"fake Omise failures scheduled but never reached: {failures}")
