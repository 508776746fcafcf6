"""The sandbox's JSON endpoints: Omise's API, its vault, and the test hooks.

One decorator, `endpoint`, does what every call shares, in Omise's order: authenticate the key
(test keys of this project only), note the IP a secret key is used from, parse JSON or form
bodies, apply any injected fault, turn `SandboxError` into Omise's error object, and record
what was received (never card fields) so tests can see what reached "Omise".
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import re
import threading
from collections.abc import Callable
from functools import wraps

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from sandbox.models import Fault, ReceivedRequest
from sandbox.services.account import account_json
from sandbox.services.charges import (
    capture_charge,
    charge_json,
    create_charge,
    create_refund,
    expire_charge,
    get_charge,
    list_charges,
    mark_charge,
    reverse_charge,
)
from sandbox.services.common import SandboxError, as_bool, paginate
from sandbox.services.disputes import (
    accept_dispute,
    dispute_json,
    get_dispute,
    list_disputes,
    open_dispute,
    update_dispute,
)
from sandbox.services.events import (
    deliver_pending,
    delivery_json,
    event_json,
    get_event,
    list_events,
)
from sandbox.services.faults import add_fault, take_fault
from sandbox.services.keys import record_key_use
from sandbox.services.refunds import refund_json
from sandbox.services.sources import capability_json, create_source, get_source
from sandbox.services.tokens import create_token

_LIVE_KEY = re.compile(r"^(pkey|skey)_(?!test_)")


class _Stalls:
    """Injected stalls in flight. A test that times out early leaves its request sleeping in a
    server thread; `release_all` (called by the test fixture) ends them before the server
    goes away."""

    def __init__(self):
        self._release = threading.Event()
        self._idle = threading.Condition()
        self._count = 0

    def sleep(self, seconds: float) -> None:
        with self._idle:
            self._count += 1
        try:
            self._release.wait(seconds)
        finally:
            with self._idle:
                self._count -= 1
                self._idle.notify_all()

    def release_all(self, timeout: float = 30) -> None:
        self._release.set()
        with self._idle:
            self._idle.wait_for(lambda: self._count == 0, timeout)
        self._release.clear()


stalls = _Stalls()


def _error(exc: SandboxError) -> JsonResponse:
    return JsonResponse(exc.as_json(), status=exc.status)


def _presented_key(request: HttpRequest) -> str:
    """The username of HTTP Basic (Omise's scheme); "" when absent or malformed."""
    scheme, _, value = request.META.get("HTTP_AUTHORIZATION", "").partition(" ")
    if scheme.lower() != "basic":
        return ""
    try:
        return base64.b64decode(value, validate=True).decode().partition(":")[0]
    except (binascii.Error, UnicodeDecodeError):
        return ""


# The error code an injected status fault answers with, as Omise would for that status.
FAULT_CODES = {401: "authentication_failure", 404: "not_found", 429: "too_many_requests"}


def authenticate(request: HttpRequest, *, vault: bool) -> str:
    """The key if it is this project's public (vault) or secret (API) test key."""
    key = _presented_key(request)
    expected = settings.OMISE_PUBLIC_KEY if vault else settings.OMISE_SECRET_KEY
    if _LIVE_KEY.match(key):
        raise SandboxError(
            "authentication_failure",
            "this is the offline sandbox: it accepts test keys (pkey_test_/skey_test_) only. "
            "A live key was sent; keep live keys for production and roll this one if exposed.",
            401,
        )
    if not key or not hmac.compare_digest(key.encode(), expected.encode()):
        raise SandboxError("authentication_failure", "authentication failed", 401)
    return key


def _authenticate_any(request: HttpRequest) -> str:
    """The secret or the public test key (endpoints Omise answers for either)."""
    try:
        return authenticate(request, vault=False)
    except SandboxError:
        return authenticate(request, vault=True)


def _expand_brackets(pairs) -> dict:
    """Form encoding as Omise accepts it: `card[name]=…`, `metadata[order]=…`."""
    result: dict = {}
    for name, value in pairs:
        match = re.fullmatch(r"(\w+)\[(\w+)\]", name)
        if match:
            result.setdefault(match.group(1), {})[match.group(2)] = value
        else:
            result[name] = value
    return result


def parse_params(request: HttpRequest) -> dict:
    params = _expand_brackets(request.GET.items())
    if request.method in {"POST", "PATCH", "PUT", "DELETE"} and request.body:
        if request.content_type == "application/json":
            try:
                body = json.loads(request.body)
            except ValueError:
                raise SandboxError("bad_request", "the request body is not valid JSON") from None
            if not isinstance(body, dict):
                raise SandboxError("bad_request", "the request body must be a JSON object")
            params.update(body)
        else:
            params.update(_expand_brackets(request.POST.items()))
    return params


def _cors(response: HttpResponse) -> HttpResponse:
    """The vault is called by Omise.js from any shop's origin, with the public key only."""
    response["Access-Control-Allow-Origin"] = "*"
    response["Access-Control-Allow-Methods"] = "POST, OPTIONS"
    response["Access-Control-Allow-Headers"] = "Authorization, Content-Type"
    response["Access-Control-Max-Age"] = "600"
    return response


def _recordable(params: dict, *, vault: bool) -> dict:
    if vault:  # card fields are never stored, not even in this log: only which were sent
        card = params.get("card")
        return {"card_fields": sorted(card) if isinstance(card, dict) else []}
    return params


def endpoint(
    name: str | dict[str, str],
    *,
    methods: tuple[str, ...] = ("GET",),
    vault: bool = False,
    public: bool = False,
    any_key: bool = False,
):
    """Wrap a handler `(request, params, **kwargs) -> dict` as an Omise-like endpoint.

    `name` (per method when a dict) is what faults target and what requests are recorded as.
    `vault`: the card vault (public key, CORS, card fields never recorded). `public`: another
    public-key endpoint called from shops' pages (`POST /sources`): public key and CORS, and
    its parameters recorded like the API's. `any_key`: either key (`GET /capability`), CORS
    for the public key's callers.
    """
    browser = vault or public or any_key
    names = name if isinstance(name, dict) else dict.fromkeys(methods, name)

    def decorator(handler: Callable[..., dict]):
        @csrf_exempt
        @wraps(handler)
        def view(request: HttpRequest, **kwargs) -> HttpResponse:
            if browser and request.method == "OPTIONS":
                return _cors(HttpResponse(status=204))
            params: dict = {}
            fault: Fault | None = None
            name = names.get(request.method, "unknown")
            # Read the body even when refusing: an unread body left on a keep-alive connection
            # would be parsed as the next request.
            request.body  # noqa: B018
            try:
                if request.method not in methods:
                    raise SandboxError("not_found", "the requested resource was not found", 404)
                if any_key:
                    key = _authenticate_any(request)
                else:
                    key = authenticate(request, vault=browser)
                if not browser or key == settings.OMISE_SECRET_KEY:
                    record_key_use(key=key, ip=request.META.get("REMOTE_ADDR", ""))
                params = parse_params(request)
                fault = take_fault(endpoint=name)
                if fault and fault.kind == Fault.Kind.STATUS:
                    raise SandboxError(
                        FAULT_CODES.get(fault.status, "internal_error"),
                        "injected fault",
                        fault.status,
                    )
                if fault and fault.kind == Fault.Kind.STALL_BEFORE:
                    stalls.sleep(fault.seconds)
                response = JsonResponse(handler(request, params, **kwargs))
            except SandboxError as exc:
                response = _error(exc)
            ReceivedRequest.objects.create(
                endpoint=name,
                method=request.method,
                path=request.path,
                params=_recordable(params, vault=vault),
                headers={
                    "Omise-Version": request.headers.get("Omise-Version", ""),
                    "User-Agent": request.headers.get("User-Agent", ""),
                },
                ip=request.META.get("REMOTE_ADDR", ""),
                status_code=response.status_code,
            )
            if fault and fault.kind == Fault.Kind.STALL_AFTER:
                # The work is done (a charge exists) but the caller will see a timeout.
                stalls.sleep(fault.seconds)
            return _cors(response) if browser else response

        view.endpoint_names = set(names.values())
        return view

    return decorator


# --- vault -----------------------------------------------------------------------------------
@endpoint("tokens.create", methods=("POST",), vault=True)
def tokens(request, params):
    card = params.get("card")
    if not isinstance(card, dict):
        raise SandboxError("invalid_card", "card is missing")
    return create_token(card=card)


@endpoint("sources.create", methods=("POST",), public=True)
def sources(request, params):
    """`POST /sources` with the public key, as Omise.js' `Omise.createSource` calls it."""
    return create_source(params=params)


# --- API -------------------------------------------------------------------------------------
@endpoint("sources.retrieve")
def source_detail(request, params, source_id):
    """`GET /sources/{id}` with the secret key: the shop reads what the browser created."""
    return get_source(source_id)


@endpoint("capability.retrieve", any_key=True)
def capability(request, params):
    """`GET /capability`: what this account can take (methods, terms, limits)."""
    return capability_json()


@endpoint({"GET": "charges.list", "POST": "charges.create"}, methods=("GET", "POST"))
def charges(request, params):
    if request.method == "POST":
        return create_charge(params=params)
    return list_charges(params=params)


@endpoint("charges.retrieve")
def charge_detail(request, params, charge_id):
    return charge_json(get_charge(charge_id))


@endpoint("charges.capture", methods=("POST",))
def charge_capture(request, params, charge_id):
    return capture_charge(charge_id=charge_id, params=params)


@endpoint("charges.reverse", methods=("POST",))
def charge_reverse(request, params, charge_id):
    return reverse_charge(charge_id=charge_id)


@endpoint("charges.expire", methods=("POST",))
def charge_expire(request, params, charge_id):
    return expire_charge(charge_id=charge_id)


@endpoint("charges.mark_as_paid", methods=("POST",))
def charge_mark_as_paid(request, params, charge_id):
    return mark_charge(charge_id=charge_id, paid=True)


@endpoint("charges.mark_as_failed", methods=("POST",))
def charge_mark_as_failed(request, params, charge_id):
    return mark_charge(charge_id=charge_id, paid=False)


@endpoint({"GET": "refunds.list", "POST": "refunds.create"}, methods=("GET", "POST"))
def charge_refunds(request, params, charge_id):
    if request.method == "GET":
        charge = get_charge(charge_id)
        return paginate(charge.refunds.all(), params=params, serialize=refund_json)
    return create_refund(charge_id=charge_id, params=params)


@endpoint("charges.dispute", methods=("POST",))
def charge_dispute(request, params, charge_id):
    """Test mode's `POST /charges/{id}/disputes`: a chargeback on a paid charge."""
    return open_dispute(charge_id=charge_id, reason_code=str(params.get("reason_code") or ""))


@endpoint("disputes.list")
def disputes(request, params, status=""):
    return list_disputes(params=params, status=status)


@endpoint({"GET": "disputes.retrieve", "PATCH": "disputes.update"}, methods=("GET", "PATCH"))
def dispute_detail(request, params, dispute_id):
    if request.method == "PATCH":
        return update_dispute(dispute_id=dispute_id, params=params)
    return dispute_json(get_dispute(dispute_id))


@endpoint("disputes.accept", methods=("POST",))
def dispute_accept(request, params, dispute_id):
    return accept_dispute(dispute_id=dispute_id)


@endpoint("events.list")
def events(request, params):
    return list_events(params=params)


@endpoint("events.retrieve")
def event_detail(request, params, event_id):
    return event_json(get_event(event_id))


@endpoint("account.retrieve")
def account(request, params):
    return account_json()


@csrf_exempt
def not_found(request: HttpRequest) -> JsonResponse:
    return _error(SandboxError("not_found", "the requested resource was not found", 404))


# --- test hooks (sandbox only; secret key like the API) --------------------------------------
@endpoint("test.webhooks", methods=("POST",))
def test_deliver_webhooks(request, params):
    ids = params.get("event_ids") or None
    if ids is not None and not (isinstance(ids, list) and all(isinstance(i, str) for i in ids)):
        raise SandboxError("bad_request", "event_ids must be a list of event ids")
    deliveries = deliver_pending(
        event_ids=ids,
        duplicate=_int_param(params, "duplicate", 1),
        reverse_order=as_bool(params.get("reverse"), default=False),
    )
    return {
        "object": "list",
        "data": [delivery_json(d) for d in deliveries],
        "total": len(deliveries),
    }


@endpoint("test.faults", methods=("POST", "DELETE"))
def test_faults(request, params):
    if request.method == "DELETE":
        deleted, _ = Fault.objects.all().delete()
        return {"object": "list", "data": [], "total": 0, "deleted": deleted}
    name = str(params.get("endpoint") or "")
    if name not in known_endpoints():
        raise SandboxError("bad_request", f"unknown endpoint {name!r:.60}")
    fault = add_fault(
        endpoint=name,
        kind=str(params.get("kind") or ""),
        seconds=_float_param(params, "seconds", 0.0),
        status=_int_param(params, "status", 500),
        count=_int_param(params, "count", 1),
    )
    return {
        "object": "fault",
        "id": fault.pk,
        "endpoint": fault.endpoint,
        "kind": fault.kind,
        "seconds": fault.seconds,
        "status": fault.status,
        "remaining": fault.remaining,
    }


def known_endpoints() -> set[str]:
    """Every endpoint name a fault may target."""
    return set().union(*(getattr(v, "endpoint_names", set()) for v in globals().values()))


def _int_param(params: dict, name: str, default: int) -> int:
    try:
        return int(params.get(name) or default)
    except (TypeError, ValueError):
        raise SandboxError("bad_request", f"{name} must be an integer") from None


def _float_param(params: dict, name: str, default: float) -> float:
    try:
        return float(params.get(name) or default)
    except (TypeError, ValueError):
        raise SandboxError("bad_request", f"{name} must be a number") from None
