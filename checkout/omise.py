"""The one Omise client of this shop: a thin, typed wrapper over Omise's REST API.

Everything that talks to Omise goes through `get_client()`, so the rules live in one place:

- HTTP Basic with the secret key (the vault, for tokens, with the public key), a pinned
  `Omise-Version`, a User-Agent naming this project, connect and read timeouts.
- Omise's error object becomes `OmiseAPIError(code, message, http_status, location)`; a network
  failure or timeout becomes `OmiseNetworkError`. A declined charge is *not* an error: it is a
  200 with `status: "failed"`, returned like any other charge.
- `POST` is never retried: a timeout on `POST /charges` may still have charged the card (Omise
  has no idempotency key). GETs are retried a few times on connection errors and 5xx/429.
- `OMISE_PROXY_URL` routes Omise calls, and only them, through a fixed-egress proxy.
- The secret key never appears in a repr, an exception message or a log line.

The base URLs are settings, so the same code talks to api.omise.co or to the offline sandbox.
"""

from __future__ import annotations

import base64
import logging
import platform
import re
import threading
import time
from datetime import UTC, datetime
from importlib import metadata as importlib_metadata
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import requests
import requests.auth

from checkout.ids import is_omise_id

logger = logging.getLogger(__name__)

OMISE_API_VERSION = "2019-05-29"
DEFAULT_API_URL = "https://api.omise.co"
DEFAULT_VAULT_URL = "https://vault.omise.co"

# Object ids go into URL paths: anything but a plain Omise id (e.g. "../account") is refused.


def _project_version() -> str:
    try:
        return importlib_metadata.version("omise-storefront")
    except importlib_metadata.PackageNotFoundError:  # running from a bare checkout
        return "0.1.0"


USER_AGENT = (
    f"OmiseStorefront/{_project_version()} Python/{platform.python_version()} "
    f"requests/{requests.__version__}"
)


class OmiseError(Exception):
    """Base of every error this client raises."""


class OmiseAPIError(OmiseError):
    """Omise answered with its error object (`{"object": "error", "code": ..., ...}`).

    Switch on `code` (as Omise's own libraries do), not on `http_status`.
    """

    def __init__(self, *, code: str, message: str, http_status: int, location: str = ""):
        self.code = code
        self.message = message
        self.http_status = http_status
        self.location = location
        super().__init__(f"{code} (HTTP {http_status}): {message}")


class OmiseNetworkError(OmiseError):
    """No usable answer: connection refused, reset, or timed out.

    After a POST the outcome is unknown: the charge may exist. Reconcile by retrieving
    (e.g. by the order reference kept in `metadata`), never by charging again.
    """

    def __init__(self, message: str, *, timed_out: bool = False):
        self.timed_out = timed_out
        super().__init__(message)


class OmiseInvalidId(OmiseError, ValueError):
    """An object id that is not a well-formed Omise id; refused before any request."""


class _Secret:
    """Holds a key so that no repr, traceback local or log formatting can show it."""

    __slots__ = ("_value",)

    def __init__(self, value: str):
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return f"<{redact_key(self._value)}>"

    __str__ = __repr__


class _BasicAuth(requests.auth.AuthBase):
    """Omise's HTTP Basic (key as username, empty password), with a redacted repr."""

    def __init__(self, key: _Secret):
        self._key = key

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        token = base64.b64encode(f"{self._key.reveal()}:".encode()).decode()
        request.headers["Authorization"] = f"Basic {token}"
        return request

    def __repr__(self) -> str:
        return f"_BasicAuth({self._key!r})"


def redact_key(key: str) -> str:
    """`skey_test_5xyz…` → `skey_test_…`: enough to tell which kind of key, nothing more."""
    match = re.match(r"^([a-z]+_(?:test_)?)", key or "")
    return f"{match.group(1) if match else ''}…(redacted)"


def _redact_url(url: str) -> str:
    """A proxy URL may carry credentials (`http://user:pass@host`): drop them for display."""
    if not url:
        return ""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


def _iso8601(moment: datetime) -> str:
    """Omise's timestamp format, in UTC: `2024-05-01T09:30:00Z`. Naive datetimes are refused
    (their zone would be a guess)."""
    if moment.tzinfo is None:
        raise ValueError("pass an aware datetime")
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _check_id(prefix: str, object_id: str) -> str:
    if not is_omise_id(prefix, object_id):
        raise OmiseInvalidId(f"not a valid {prefix}_ id: {object_id!r:.80}")
    return object_id


class OmiseClient:
    """One `requests.Session` per client; methods return Omise's objects as plain dicts."""

    # Seconds before GET retry n (n = 0, 1, …) is base * 2**n; tests set it to 0.
    BACKOFF_SECONDS = 0.5
    RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})

    def __init__(
        self,
        *,
        secret_key: str,
        public_key: str,
        api_url: str,
        vault_url: str,
        proxy_url: str = "",
        timeout=(5, 30),
        get_retries: int = 2,
    ):
        self._secret_key = _Secret(secret_key)
        self._public_key = public_key
        self._api_auth = _BasicAuth(self._secret_key)
        self._vault_auth = _BasicAuth(_Secret(public_key))
        self.api_url = (api_url or DEFAULT_API_URL).rstrip("/")
        self.vault_url = (vault_url or DEFAULT_VAULT_URL).rstrip("/")
        self.timeout = timeout
        self.get_retries = max(0, int(get_retries))
        self._proxy_url = _Secret(proxy_url)
        self.session = requests.Session()
        # Omise traffic must not pick up HTTP(S)_PROXY, NO_PROXY or ~/.netrc from the process
        # environment: it goes direct, or through OMISE_PROXY_URL and nowhere else.
        self.session.trust_env = False
        if proxy_url:
            # On this session only: the rest of the process's HTTP traffic is unaffected.
            self.session.proxies = {"http": proxy_url, "https": proxy_url}
        self.session.headers.update(
            {
                "User-Agent": USER_AGENT,
                "Omise-Version": OMISE_API_VERSION,
                "Accept": "application/json",
            }
        )

    def close(self) -> None:
        """Close pooled connections (tests do, before their live server stops)."""
        self.session.close()

    def __repr__(self) -> str:
        proxy = _redact_url(self._proxy_url.reveal())
        return (
            f"OmiseClient(api_url={self.api_url!r}, vault_url={self.vault_url!r}, "
            f"secret_key={redact_key(self._secret_key.reveal())!r}, proxy={proxy!r})"
        )

    # --- charges ---------------------------------------------------------------------------
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
        """`POST /charges`. Never retried; a declined card comes back as `status: "failed"`."""
        if not isinstance(amount, int) or isinstance(amount, bool):
            raise TypeError("amount must be an int in the currency's smallest unit")
        if (card is None) == (source is None):
            raise ValueError("pass exactly one of card (a token id) or source")
        params: dict[str, Any] = {"amount": amount, "currency": currency, "capture": capture}
        if card is not None:
            params["card"] = _check_id("tokn", card)
        if source is not None:
            params["source"] = source
        if description:
            params["description"] = description
        if metadata:
            params["metadata"] = metadata
        if return_uri:
            params["return_uri"] = return_uri
        if ip:
            params["ip"] = ip
        return self._request("POST", "/charges", json=params)

    def retrieve_charge(self, charge_id: str) -> dict:
        return self._request("GET", f"/charges/{_check_id('chrg', charge_id)}")

    def capture_charge(self, charge_id: str, *, amount: int | None = None) -> dict:
        """`POST /charges/{id}/capture` of an authorized charge: in full, or `amount` (minor
        units, sent as `capture_amount`) for a partial capture that releases the rest."""
        params: dict[str, Any] | None = None
        if amount is not None:
            if not isinstance(amount, int) or isinstance(amount, bool) or amount <= 0:
                raise TypeError("amount must be a positive int in the currency's smallest unit")
            params = {"capture_amount": amount}
        return self._request(
            "POST", f"/charges/{_check_id('chrg', charge_id)}/capture", json=params
        )

    def expire_charge(self, charge_id: str) -> dict:
        """End a pending charge (3-D Secure never finished, a QR code never paid)."""
        return self._request("POST", f"/charges/{_check_id('chrg', charge_id)}/expire")

    def reverse_charge(self, charge_id: str) -> dict:
        return self._request("POST", f"/charges/{_check_id('chrg', charge_id)}/reverse")

    def list_charges(
        self,
        *,
        from_time: datetime | None = None,
        to_time: datetime | None = None,
        offset: int = 0,
        limit: int = 20,
        order: str = "reverse_chronological",
    ) -> dict:
        """`GET /charges`, newest first by default: a page (`limit` ≤ 100) of Omise's list
        object. `from_time`/`to_time` bound `created_at`; reconciliation uses them to find a
        charge whose creation timed out by the attempt key in its metadata."""
        if not (int(offset) >= 0) or not (1 <= int(limit) <= 100):
            raise ValueError("offset must be >= 0 and limit between 1 and 100")
        if order not in {"chronological", "reverse_chronological"}:
            raise ValueError("order must be chronological or reverse_chronological")
        params: dict[str, Any] = {"offset": offset, "limit": limit, "order": order}
        if from_time is not None:
            params["from"] = _iso8601(from_time)
        if to_time is not None:
            params["to"] = _iso8601(to_time)
        return self._request("GET", "/charges", params=params)

    def create_refund(self, charge_id: str, *, amount: int, metadata: dict | None = None) -> dict:
        if not isinstance(amount, int) or isinstance(amount, bool):
            raise TypeError("amount must be an int in the currency's smallest unit")
        params: dict[str, Any] = {"amount": amount}
        if metadata:
            params["metadata"] = metadata
        return self._request(
            "POST", f"/charges/{_check_id('chrg', charge_id)}/refunds", json=params
        )

    def list_refunds(self, charge_id: str, *, offset: int = 0, limit: int = 100) -> dict:
        """`GET /charges/{id}/refunds`, oldest first: how a refund whose answer was lost (a
        timeout) is found again, by the request token in its metadata."""
        if not (int(offset) >= 0) or not (1 <= int(limit) <= 100):
            raise ValueError("offset must be >= 0 and limit between 1 and 100")
        return self._request(
            "GET",
            f"/charges/{_check_id('chrg', charge_id)}/refunds",
            params={"offset": offset, "limit": limit, "order": "chronological"},
        )

    # --- sources, capability ------------------------------------------------------------------
    def retrieve_source(self, source_id: str) -> dict:
        """`GET /sources/{id}`: the source the shopper's browser created (its type, amount,
        installment term, phone number), read before it is charged."""
        return self._request("GET", f"/sources/{_check_id('src', source_id)}")

    def capability(self) -> dict:
        """`GET /capability`: the account's payment methods, currencies, installment terms and
        amount limits (`checkout.capability` caches it)."""
        return self._request("GET", "/capability")

    # --- events, account ---------------------------------------------------------------------
    def retrieve_event(self, event_id: str) -> dict:
        return self._request("GET", f"/events/{_check_id('evnt', event_id)}")

    def list_events(
        self,
        *,
        from_time: datetime | None = None,
        offset: int = 0,
        limit: int = 20,
        order: str = "chronological",
    ) -> dict:
        """`GET /events`, a page (`limit` ≤ 100); `from_time` bounds `created_at` (the event
        catch-up lists what happened since the newest event it saw)."""
        if not (int(offset) >= 0) or not (1 <= int(limit) <= 100):
            raise ValueError("offset must be >= 0 and limit between 1 and 100")
        if order not in {"chronological", "reverse_chronological"}:
            raise ValueError("order must be chronological or reverse_chronological")
        params: dict[str, Any] = {"offset": offset, "limit": limit, "order": order}
        if from_time is not None:
            params["from"] = _iso8601(from_time)
        return self._request("GET", "/events", params=params)

    # --- disputes ----------------------------------------------------------------------------
    def retrieve_dispute(self, dispute_id: str) -> dict:
        return self._request("GET", f"/disputes/{_check_id('dspt', dispute_id)}")

    def update_dispute(self, dispute_id: str, *, message: str) -> dict:
        """`PATCH /disputes/{id}` with the shop's answer (`message`); evidence files are
        uploaded in Omise's dashboard."""
        return self._request(
            "PATCH", f"/disputes/{_check_id('dspt', dispute_id)}", json={"message": message}
        )

    def accept_dispute(self, dispute_id: str) -> dict:
        """`POST /disputes/{id}/accept`: concede; the disputed amount stays with the shopper."""
        return self._request("POST", f"/disputes/{_check_id('dspt', dispute_id)}/accept")

    def retrieve_account(self) -> dict:
        """`GET /account`: the cheapest call that proves the secret key works."""
        return self._request("GET", "/account")

    # --- vault -------------------------------------------------------------------------------
    def create_token(self, *, card: dict) -> dict:
        """`POST vault/tokens` with the public key. Browsers do this through Omise.js; the
        shop's server never should with real card numbers (tests and tooling only)."""
        return self._request("POST", "/tokens", json={"card": card}, vault=True)

    # --- transport ---------------------------------------------------------------------------
    def _request(
        self,
        method: str,
        path: str,
        *,
        json: dict | None = None,
        params: dict | None = None,
        vault: bool = False,
    ) -> dict:
        url = (self.vault_url if vault else self.api_url) + path
        auth = self._vault_auth if vault else self._api_auth
        # Only reads are safe to repeat; a POST that timed out may have taken effect.
        attempts = 1 + (self.get_retries if method == "GET" else 0)
        for attempt in range(attempts):
            last = attempt == attempts - 1
            try:
                response = self.session.request(
                    method, url, json=json, params=params, auth=auth, timeout=self.timeout
                )
            except requests.ConnectionError as exc:  # includes connect timeouts
                if not last:
                    self._backoff(attempt, method, path, type(exc).__name__)
                    continue
                raise self._network_error(method, path, exc) from None
            except requests.RequestException as exc:  # read timeout, invalid response…
                raise self._network_error(method, path, exc) from None
            if response.status_code in self.RETRY_STATUSES and not last:
                response.close()
                self._backoff(attempt, method, path, f"HTTP {response.status_code}")
                continue
            result = self._parse(response)
            # Nothing of the exchange stays in this frame when raising: error reporters that
            # capture locals would otherwise find the request's Authorization header, and the
            # response would keep its connection checked out.
            response.close()
            del response
            if isinstance(result, OmiseAPIError):
                raise result
            return result
        raise AssertionError("unreachable")  # pragma: no cover

    def _backoff(self, attempt: int, method: str, path: str, reason: str) -> None:
        delay = self.BACKOFF_SECONDS * (2**attempt)
        logger.warning("Omise %s %s failed (%s); retrying in %.2fs", method, path, reason, delay)
        time.sleep(delay)

    @staticmethod
    def _network_error(method: str, path: str, exc: Exception) -> OmiseNetworkError:
        # `from None` above and no str(exc): the cause holds the prepared request, whose
        # Authorization header carries the key, and error reporters love to dump causes.
        timed_out = isinstance(exc, requests.Timeout)
        what = "timed out" if timed_out else f"failed ({type(exc).__name__})"
        outcome = " — outcome unknown, retrieve before retrying" if method == "POST" else ""
        logger.warning("Omise %s %s %s", method, path, what)
        return OmiseNetworkError(f"Omise {method} {path} {what}{outcome}", timed_out=timed_out)

    @staticmethod
    def _parse(response: requests.Response) -> dict | OmiseAPIError:
        try:
            body = response.json()
        except ValueError:
            body = None
        if isinstance(body, dict) and body.get("object") == "error":
            return OmiseAPIError(
                code=str(body.get("code", "unknown")),
                message=str(body.get("message", "")),
                http_status=response.status_code,
                location=str(body.get("location", "")),
            )
        if response.status_code >= 400 or not isinstance(body, dict):
            # A proxy or load balancer answered, not Omise: still a typed error.
            code = "server_error" if response.status_code >= 500 else "invalid_response"
            return OmiseAPIError(
                code=code,
                message=f"unexpected HTTP {response.status_code} response from Omise",
                http_status=response.status_code,
            )
        return body


_clients: dict[tuple, OmiseClient] = {}
_clients_lock = threading.Lock()


def get_client() -> OmiseClient:
    """The client for the current settings (read at call time: tests change them)."""
    from django.conf import settings

    config = (
        settings.OMISE_SECRET_KEY,
        settings.OMISE_PUBLIC_KEY,
        getattr(settings, "OMISE_API_URL", DEFAULT_API_URL),
        getattr(settings, "OMISE_VAULT_URL", DEFAULT_VAULT_URL),
        getattr(settings, "OMISE_PROXY_URL", ""),
        # (connect, read) seconds. A read timeout on POST /charges leaves the outcome unknown
        # (reconciled later), so it should be longer than Omise normally takes to answer.
        (
            float(getattr(settings, "OMISE_TIMEOUT_CONNECT", 5)),
            float(getattr(settings, "OMISE_TIMEOUT_READ", 30)),
        ),
    )
    with _clients_lock:
        client = _clients.get(config)
        if client is None:
            if len(_clients) > 8:  # settings churn in tests: keep the cache small
                _clients.clear()
            secret_key, public_key, api_url, vault_url, proxy_url, timeout = config
            client = OmiseClient(
                secret_key=secret_key,
                public_key=public_key,
                api_url=api_url,
                vault_url=vault_url,
                proxy_url=proxy_url,
                timeout=timeout,
            )
            _clients[config] = client
        return client


def close_clients() -> None:
    """Close and forget every cached client (tests: their server is going away)."""
    with _clients_lock:
        for client in _clients.values():
            client.close()
        _clients.clear()
