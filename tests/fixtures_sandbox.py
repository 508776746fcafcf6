"""The `sandbox` fixture: the shop and the Omise sandbox on a live server, over real HTTP.

One threaded live server answers both origins: the shop at http://localhost:PORT and the
sandbox ("Omise") at http://127.0.0.1:PORT. Browsers treat them as different origins, so the
card frame is cross-origin to the shop's page, as Omise's is. Settings point the Omise client,
Omise.js and the webhook URL at them for the test's duration.

    def test_pay(sandbox):
        charge = sandbox.client.create_charge(amount=129000, currency="THB",
                                              card=sandbox.token())
        assert charge["status"] == "successful"
        assert sandbox.last_request("charges.create")["amount"] == 129000
        sandbox.deliver_webhooks()          # POSTs pending events to the shop, signed
"""

from __future__ import annotations

import re
import threading
import time
from datetime import date
from urllib.parse import urlsplit

import pytest
import requests

from checkout.omise import OmiseClient, close_clients


class SandboxHelper:
    """What a test needs from the sandbox: URLs, a client, tokens, hooks and what it received."""

    def __init__(self, *, shop_url: str, sandbox_url: str, settings):
        self.url = shop_url
        self.sandbox_url = sandbox_url
        self.api_url = f"{sandbox_url}/sandbox/api"
        self.vault_url = f"{sandbox_url}/sandbox/vault"
        self.settings = settings
        self._clients: list[OmiseClient] = []
        self.client = self.make_client(timeout=(3, 10))
        self._http = requests.Session()
        self._http.trust_env = False
        self._http.auth = (settings.OMISE_SECRET_KEY, "")

    def make_client(self, **overrides) -> OmiseClient:
        """An OmiseClient for the sandbox (overrides: timeout, get_retries, keys, URLs…),
        retrying without backoff delays, closed at the end of the test."""
        options = {
            "secret_key": self.settings.OMISE_SECRET_KEY,
            "public_key": self.settings.OMISE_PUBLIC_KEY,
            "api_url": self.api_url,
            "vault_url": self.vault_url,
            **overrides,
        }
        client = OmiseClient(**options)
        client.BACKOFF_SECONDS = 0
        self._clients.append(client)
        return client

    def close(self) -> None:
        for client in self._clients:
            client.close()
        self._http.close()

    # --- vault --------------------------------------------------------------------------------
    @staticmethod
    def card(number: str = "4242424242424242", **fields) -> dict:
        """Card fields as Omise.js sends them, valid unless overridden."""
        return {
            "name": "Somchai Prasert",
            "number": number,
            "expiration_month": 12,
            "expiration_year": date.today().year + 3,
            "security_code": "123",
            **fields,
        }

    def token(self, number: str = "4242424242424242", **fields) -> str:
        """A fresh `tokn_test_…` for a card (see docs/sandbox.md for the test cards)."""
        return self.client.create_token(card=self.card(number, **fields))["id"]

    def source(
        self, type: str = "promptpay", *, amount: int, currency: str = "THB", **fields
    ) -> str:
        """A fresh `src_test_…` as Omise.js' createSource makes it (public key, `POST /sources`):
        PromptPay by default, or a mobile bank, wallet or installment type with its own
        `fields` (`installment_term`, `phone_number`)."""
        response = self._http.post(
            f"{self.api_url}/sources",
            auth=(self.settings.OMISE_PUBLIC_KEY, ""),
            timeout=10,
            json={"type": type, "amount": amount, "currency": currency, **fields},
        )
        body = response.json()
        assert response.status_code == 200, body
        return body["id"]

    # --- test hooks (HTTP, secret key) ---------------------------------------------------------
    def _hook(self, method: str, path: str, payload: dict | None = None) -> dict:
        response = self._http.request(
            method, f"{self.sandbox_url}/sandbox/{path}", json=payload, timeout=30
        )
        body = response.json()
        if response.status_code >= 400:
            raise AssertionError(f"sandbox hook {path} failed: {body}")
        return body

    def deliver_webhooks(
        self, *, event_ids: list[str] | None = None, duplicate: int = 1, reverse: bool = False
    ) -> list[dict]:
        """POST pending events (or exactly `event_ids`) to the shop's webhook URL, signed;
        each `duplicate` times, newest first if `reverse`. Returns the delivery records
        (`event`, `key`, `status_code`, `error`)."""
        payload = {"duplicate": duplicate, "reverse": reverse}
        if event_ids:
            payload["event_ids"] = list(event_ids)
        return self._hook("POST", "test/webhooks/deliver", payload)["data"]

    def fault(
        self,
        endpoint: str,
        kind: str = "status",
        *,
        seconds: float = 0,
        status: int = 500,
        count: int = 1,
    ) -> dict:
        """Make the next `count` calls of `endpoint` (e.g. "charges.create",
        "charges.retrieve", "tokens.create") misbehave: kind "status" answers `status`
        (500, 429…) without processing; "stall_before" sleeps `seconds` then processes;
        "stall_after" processes (the charge exists) then sleeps."""
        return self._hook(
            "POST",
            "test/faults",
            {
                "endpoint": endpoint,
                "kind": kind,
                "seconds": seconds,
                "status": status,
                "count": count,
            },
        )

    def clear_faults(self) -> None:
        self._hook("DELETE", "test/faults")

    def expire(self, charge_id: str) -> dict:
        return self._hook("POST", f"api/charges/{charge_id}/expire")

    def mark_as_failed(self, charge_id: str) -> dict:
        return self._hook("POST", f"api/charges/{charge_id}/mark_as_failed")

    def mark_as_paid(self, charge_id: str) -> dict:
        return self._hook("POST", f"api/charges/{charge_id}/mark_as_paid")

    def complete_3ds(self, charge: dict, *, authorize: bool = True) -> str:
        """Play the shopper on the 3-D Secure page without a browser: GET authorize_uri,
        press Authorize or Fail. Returns where the page redirects (the charge's return_uri)."""
        shopper = requests.Session()
        shopper.trust_env = False
        page = shopper.get(charge["authorize_uri"], timeout=10)
        page.raise_for_status()
        csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
        answer = shopper.post(
            charge["authorize_uri"],
            data={"csrfmiddlewaretoken": csrf, "choice": "authorize" if authorize else "fail"},
            headers={"Referer": charge["authorize_uri"]},
            allow_redirects=False,
            timeout=10,
        )
        assert answer.status_code == 302, answer.status_code
        return answer.headers["Location"]

    def complete_offsite(self, authorize_uri: str, outcome: str = "pay") -> str:
        """Play the shopper in the bank's app, the wallet or at the card issuer without a
        browser: GET authorize_uri, press Pay, Cancel or Let it time out ("pay", "cancel",
        "timeout"). Returns where the page redirects (the charge's return_uri)."""
        shopper = requests.Session()
        shopper.trust_env = False
        page = shopper.get(authorize_uri, timeout=10)
        page.raise_for_status()
        csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
        answer = shopper.post(
            authorize_uri,
            data={"csrfmiddlewaretoken": csrf, "outcome": outcome},
            headers={"Referer": authorize_uri},
            allow_redirects=False,
            timeout=10,
        )
        assert answer.status_code == 302, answer.status_code
        return answer.headers["Location"]

    # --- what "Omise" received and did (read from the shared test database) -------------------
    def requests(self, endpoint: str | None = None) -> list:
        """`ReceivedRequest` rows, oldest first: endpoint, method, path, params, headers, ip."""
        from sandbox.models import ReceivedRequest

        rows = ReceivedRequest.objects.order_by("id")
        return list(rows.filter(endpoint=endpoint) if endpoint else rows)

    def last_request(self, endpoint: str = "charges.create") -> dict:
        """The parameters of the last call of `endpoint`, as the sandbox parsed them."""
        rows = self.requests(endpoint)
        assert rows, f"the sandbox received no {endpoint} call"
        return rows[-1].params

    def events(self, key: str | None = None) -> list[dict]:
        """Events recorded, oldest first, in Omise's wire format."""
        from sandbox.models import Event
        from sandbox.services.events import event_json

        rows = Event.objects.order_by("seq")
        return [event_json(e) for e in (rows.filter(key=key) if key else rows)]

    def drop_webhooks(self, on: bool = True) -> None:
        """The dashboard's switch: events are recorded but never delivered (dropped)."""
        from sandbox.models import Switches

        Switches.objects.update_or_create(pk=1, defaults={"drop_webhooks": on})

    def open_dispute(self, charge_id: str) -> dict:
        """A chargeback on a paid charge (test mode's `POST /charges/{id}/disputes`)."""
        return self._hook("POST", f"api/charges/{charge_id}/disputes")

    def deliveries(self) -> list:
        from sandbox.models import Delivery

        return list(Delivery.objects.select_related("event").order_by("id"))

    def notices(self) -> list:
        from sandbox.models import Notice

        return list(Notice.objects.order_by("id"))


@pytest.fixture
def sandbox(live_server, settings):
    """The live server as shop (localhost) and Omise sandbox (127.0.0.1), wired in settings."""
    parts = urlsplit(live_server.url)
    port = parts.port
    shop_host, sandbox_host = (
        ("127.0.0.1", "localhost") if parts.hostname == "127.0.0.1" else ("localhost", "127.0.0.1")
    )
    shop_url, sandbox_url = f"http://{shop_host}:{port}", f"http://{sandbox_host}:{port}"
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "localhost", "127.0.0.1"]
    settings.SHOP_ORIGIN = shop_url
    settings.SANDBOX_ORIGIN = sandbox_url
    settings.OMISE_API_URL = f"{sandbox_url}/sandbox/api"
    settings.OMISE_VAULT_URL = f"{sandbox_url}/sandbox/vault"
    settings.OMISE_JS_URL = f"{sandbox_url}/sandbox/omise.js"
    settings.OMISE_PROXY_URL = ""
    settings.SANDBOX_WEBHOOK_URL = f"{shop_url}/webhooks/omise/"
    settings.SANDBOX_WEBHOOK_DELIVERY = "manual"
    helper = SandboxHelper(shop_url=shop_url, sandbox_url=sandbox_url, settings=settings)
    yield helper
    # Requests still stalled by a fault, and keep-alive connections, would outlive the live
    # server's shared database connection: end them first.
    from sandbox.api import stalls

    stalls.release_all()
    helper.close()
    close_clients()
    # Then let the server's request threads see the closed connections and finish: they close
    # the shared database connection on exit, which must happen while the server still runs.
    # (A browser test should request `sandbox` before `page`, so the browser closes first.)
    deadline = time.monotonic() + 5
    for thread in threading.enumerate():
        if thread.name.endswith("(process_request_thread)"):
            thread.join(timeout=max(0.0, deadline - time.monotonic()))
