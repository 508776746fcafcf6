"""The Omise client against the sandbox over real HTTP: every call, every error class,
timeouts, retries and the never-retry rule for charge creation, the proxy, key secrecy."""

import http.client
import http.server
import logging
import os
import socket
import threading
from urllib.parse import urlsplit

import pytest
import requests

from checkout import omise
from checkout.omise import (
    OmiseAPIError,
    OmiseClient,
    OmiseError,
    OmiseInvalidId,
    OmiseNetworkError,
    get_client,
)
from sandbox.models import Charge

pytestmark = pytest.mark.django_db(transaction=True)


def client_for(sandbox, **overrides) -> OmiseClient:
    return sandbox.make_client(**overrides)


# --- every call ----------------------------------------------------------------------------
def test_create_charge_sends_pinned_version_user_agent_and_json_params(sandbox):
    """A charge is created with the token, amount in satang, metadata, return_uri and ip as
    sent; the request carries Omise-Version 2019-05-29 and a User-Agent naming this shop."""
    token = sandbox.token()
    charge = sandbox.client.create_charge(
        amount=129000,
        currency="THB",
        card=token,
        description="Order 42",
        metadata={"order_id": "42"},
        return_uri="http://localhost/ret",
        ip="203.0.113.9",
    )
    assert charge["object"] == "charge" and charge["status"] == "successful"
    received = sandbox.requests("charges.create")[-1]
    assert received.params == {
        "amount": 129000,
        "currency": "THB",
        "capture": True,
        "card": token,
        "description": "Order 42",
        "metadata": {"order_id": "42"},
        "return_uri": "http://localhost/ret",
        "ip": "203.0.113.9",
    }
    assert received.headers["Omise-Version"] == "2019-05-29"
    assert received.headers["User-Agent"].startswith("OmiseStorefront/")
    assert "Python/" in received.headers["User-Agent"]


def test_declined_card_is_a_failed_charge_not_an_exception(sandbox):
    """A decline is HTTP 200 with status "failed" and a failure_code: returned, not raised."""
    charge = sandbox.client.create_charge(
        amount=50000, currency="THB", card=sandbox.token("4111111111140011")
    )
    assert charge["status"] == "failed"
    assert charge["failure_code"] == "insufficient_fund"


def test_retrieve_capture_and_refund(sandbox):
    """An authorized-only charge is retrieved, captured, then partly refunded."""
    charge = sandbox.client.create_charge(
        amount=100000, currency="THB", card=sandbox.token(), capture=False
    )
    assert sandbox.client.retrieve_charge(charge["id"])["status"] == "pending"
    captured = sandbox.client.capture_charge(charge["id"])
    assert captured["status"] == "successful" and captured["paid"] is True
    refund = sandbox.client.create_refund(charge["id"], amount=40000, metadata={"why": "size"})
    assert refund["object"] == "refund" and refund["amount"] == 40000
    assert refund["metadata"] == {"why": "size"}
    assert sandbox.client.retrieve_charge(charge["id"])["refunded_amount"] == 40000


def test_reverse_an_authorized_charge(sandbox):
    """Reversing an uncaptured authorization returns the charge with status "reversed"."""
    charge = sandbox.client.create_charge(
        amount=100000, currency="THB", card=sandbox.token(), capture=False
    )
    reversed_ = sandbox.client.reverse_charge(charge["id"])
    assert reversed_["status"] == "reversed" and reversed_["reversed"] is True


def test_events_retrieve_and_list(sandbox):
    """Events are listed as an Omise list object and retrieved by id."""
    charge = sandbox.client.create_charge(amount=20000, currency="THB", card=sandbox.token())
    listing = sandbox.client.list_events(offset=0, limit=10)
    assert listing["object"] == "list" and listing["total"] == 1
    event = sandbox.client.retrieve_event(listing["data"][0]["id"])
    assert event["key"] == "charge.create" and event["data"]["id"] == charge["id"]


def test_retrieve_account_proves_the_keys_work(sandbox):
    """GET /account answers with the test account."""
    account = sandbox.client.retrieve_account()
    assert account["object"] == "account" and account["livemode"] is False


def test_create_token_uses_the_public_key(sandbox):
    """The vault accepts the public key; the same call with the secret key is refused."""
    token = sandbox.client.create_token(card=sandbox.card())
    assert token["id"].startswith("tokn_test_")
    wrong = client_for(sandbox, public_key=sandbox.settings.OMISE_SECRET_KEY)
    with pytest.raises(OmiseAPIError) as caught:
        wrong.create_token(card=sandbox.card())
    assert caught.value.code == "authentication_failure"


def test_get_client_follows_settings(sandbox, settings):
    """get_client() is built from settings at call time and reused while they stay the same."""
    first = get_client()
    assert first is get_client()
    assert first.api_url == sandbox.api_url
    assert first.retrieve_account()["object"] == "account"
    settings.OMISE_API_URL = "http://127.0.0.1:9/other"
    assert get_client().api_url == "http://127.0.0.1:9/other"


# --- errors --------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("call", "code", "status"),
    [
        (
            lambda c, s: s.make_client(secret_key="skey_test_wrong").retrieve_account(),
            "authentication_failure",
            401,
        ),
        (lambda c, s: c.retrieve_charge("chrg_test_doesnotexist"), "not_found", 404),
        (
            lambda c, s: c.create_charge(amount=1999, currency="THB", card=s.token()),
            "invalid_charge",
            400,
        ),
        (
            lambda c, s: c.capture_charge(
                c.create_charge(amount=20000, currency="THB", card=s.token())["id"]
            ),
            "failed_capture",
            400,
        ),
        (
            lambda c, s: c.create_refund(
                c.create_charge(amount=20000, currency="THB", card=s.token())["id"], amount=20001
            ),
            "failed_refund",
            400,
        ),
        (lambda c, s: c.create_token(card=s.card("4242424242424241")), "invalid_card", 400),
    ],
    ids=["auth", "not_found", "amount", "capture", "refund", "card"],
)
def test_omise_error_objects_become_typed_errors(sandbox, call, code, status):
    """Omise's error object raises OmiseAPIError with its code, message, HTTP status and
    location."""
    with pytest.raises(OmiseAPIError) as caught:
        call(sandbox.client, sandbox)
    error = caught.value
    assert (error.code, error.http_status) == (code, status)
    assert error.message and error.location.startswith("https://www.omise.co/api-errors")
    assert isinstance(error, OmiseError)


def test_used_token_is_refused(sandbox):
    """A token charges once; the second charge fails with used_token."""
    token = sandbox.token()
    sandbox.client.create_charge(amount=20000, currency="THB", card=token)
    with pytest.raises(OmiseAPIError) as caught:
        sandbox.client.create_charge(amount=20000, currency="THB", card=token)
    assert caught.value.code == "used_token"


def test_non_json_answer_is_still_a_typed_error(sandbox):
    """A proxy's HTML error page (not Omise's JSON) raises OmiseAPIError, code by status."""
    client = client_for(sandbox, api_url=sandbox.url + "/no-such-omise", get_retries=0)
    with pytest.raises(OmiseAPIError) as caught:
        client.retrieve_account()
    assert caught.value.http_status == 404 and caught.value.code == "invalid_response"


@pytest.mark.parametrize(
    "bad_id",
    ["../account", "chrg_test_x/capture", "CHRG_TEST_X", "evnt_test_1", "chrg_test_1?x=1", ""],
)
def test_ids_that_could_inject_path_segments_are_refused(sandbox, bad_id):
    """Only well-formed chrg_ ids reach a URL; anything else raises before any request."""
    with pytest.raises(OmiseInvalidId):
        sandbox.client.retrieve_charge(bad_id)
    assert sandbox.requests() == []


def test_connection_refused_is_a_network_error(sandbox):
    """Nothing listening: OmiseNetworkError, not a timeout, after the bounded GET retries."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # closed again on exit: connections are refused
    client = client_for(sandbox, api_url=f"http://127.0.0.1:{port}", timeout=(1, 1))
    with pytest.raises(OmiseNetworkError) as caught:
        client.retrieve_account()
    assert caught.value.timed_out is False


def test_read_timeout_is_a_network_error(sandbox):
    """A sandbox that stalls past the read timeout gives OmiseNetworkError(timed_out=True)."""
    sandbox.fault("charges.retrieve", "stall_before", seconds=1.5)
    charge = sandbox.client.create_charge(amount=20000, currency="THB", card=sandbox.token())
    client = client_for(sandbox, timeout=(2, 0.3), get_retries=3)
    with pytest.raises(OmiseNetworkError) as caught:
        client.retrieve_charge(charge["id"])
    assert caught.value.timed_out is True


def test_charge_creation_that_times_out_is_never_retried(sandbox):
    """The dangerous case: Omise creates the charge but the answer is late. The client raises
    OmiseNetworkError after exactly one POST, and the charge does exist: reconcile, never
    charge again."""
    sandbox.fault("charges.create", "stall_after", seconds=1.5)
    client = client_for(sandbox, timeout=(2, 0.3), get_retries=5)
    with pytest.raises(OmiseNetworkError) as caught:
        client.create_charge(
            amount=20000, currency="THB", card=sandbox.token(), metadata={"order_id": "7"}
        )
    assert "outcome unknown" in str(caught.value)
    assert len(sandbox.requests("charges.create")) == 1
    assert Charge.objects.filter(metadata__order_id="7").count() == 1


def test_charge_creation_is_not_retried_after_a_server_error(sandbox):
    """A 500 on POST /charges is raised as is, after one attempt."""
    sandbox.fault("charges.create", "status", status=500, count=3)
    with pytest.raises(OmiseAPIError) as caught:
        sandbox.client.create_charge(amount=20000, currency="THB", card=sandbox.token())
    assert caught.value.http_status == 500
    assert len(sandbox.requests("charges.create")) == 1


def test_gets_are_retried_on_5xx_and_429(sandbox):
    """A GET that meets 503 then 429 is retried and succeeds on the third attempt."""
    sandbox.fault("account.retrieve", "status", status=503)
    sandbox.fault("account.retrieve", "status", status=429)
    assert sandbox.client.retrieve_account()["object"] == "account"
    assert [r.status_code for r in sandbox.requests("account.retrieve")] == [503, 429, 200]


def test_get_retries_are_bounded(sandbox):
    """With get_retries=2 a GET is tried three times, then the last error is raised."""
    sandbox.fault("account.retrieve", "status", status=500, count=10)
    client = client_for(sandbox, get_retries=2)
    with pytest.raises(OmiseAPIError) as caught:
        client.retrieve_account()
    assert caught.value.http_status == 500
    assert len(sandbox.requests("account.retrieve")) == 3


# --- the secret key stays secret ------------------------------------------------------------
def test_secret_key_never_in_repr_errors_or_logs(sandbox, caplog):
    """repr, exception messages, the raising frames' locals and log lines (DEBUG included)
    never contain the key."""
    key = sandbox.settings.OMISE_SECRET_KEY
    caplog.set_level(logging.DEBUG)
    client = client_for(
        sandbox,
        api_url="http://127.0.0.1:9",
        timeout=(0.5, 0.5),
        proxy_url="http://user:proxy-pass@127.0.0.1:9",
    )
    texts = [repr(client), str(vars(client))]
    for call in (
        client.retrieve_account,
        lambda: sandbox.client.retrieve_charge("chrg_test_missing"),
    ):
        with pytest.raises(OmiseError) as caught:
            call()
        texts += [str(caught.value), repr(caught.value), repr(caught.value.__cause__)]
        # What an error reporter capturing frame locals would see (below this test's frame).
        tb = caught.value.__traceback__.tb_next
        while tb is not None:
            texts += [repr(value) for value in tb.tb_frame.f_locals.values()]
            tb = tb.tb_next
    texts += [record.getMessage() for record in caplog.records]
    assert "skey_test_" in repr(client)  # the kind of key is shown, not the key
    for text in texts:
        assert key not in text
        assert "proxy-pass" not in text


# --- the egress proxy ----------------------------------------------------------------------
class _ForwardProxy(http.server.BaseHTTPRequestHandler):
    """A plain-HTTP forward proxy whose outgoing address is 127.0.0.2 (a "fixed egress IP")."""

    def _forward(self):
        target = urlsplit(self.path)
        self.server.seen.append(self.path)
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        upstream = http.client.HTTPConnection(
            target.hostname, target.port, timeout=10, source_address=("127.0.0.2", 0)
        )
        headers = {
            k: v
            for k, v in self.headers.items()
            if k.lower() not in {"proxy-connection", "connection"}
        }
        path = target.path + (f"?{target.query}" if target.query else "")
        upstream.request(self.command, path, body=body or None, headers=headers)
        answer = upstream.getresponse()
        data = answer.read()
        self.send_response(answer.status)
        for name, value in answer.getheaders():
            if name.lower() not in {"transfer-encoding", "connection", "content-length"}:
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(data)
        upstream.close()

    do_GET = do_POST = _forward

    def log_message(self, *args):
        pass


@pytest.fixture
def egress_proxy():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _ForwardProxy)
    server.seen = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def test_proxy_routes_omise_calls_and_nothing_else(sandbox, egress_proxy, settings, monkeypatch):
    """With OMISE_PROXY_URL, the client get_client() hands out carries the proxy on its own
    session and its calls go through it, so Omise sees its fixed egress IP (and raises one "new
    IP" notice for it). Nothing else is routed there: not the process's other HTTP traffic (made
    with requests' defaults, which do read the environment), nor a client without the setting."""
    for name in [n for n in os.environ if n.lower().endswith("_proxy")]:
        monkeypatch.delenv(name)  # so that only a leak from the client could route traffic
    proxy_url = f"http://127.0.0.1:{egress_proxy.server_address[1]}"
    settings.OMISE_PROXY_URL = proxy_url
    client = get_client()
    client.BACKOFF_SECONDS = 0
    assert client.session.proxies == {"http": proxy_url, "https": proxy_url}
    assert client.session.trust_env is False
    assert client.retrieve_account()["object"] == "account"
    assert client.retrieve_account()["object"] == "account"
    assert egress_proxy.seen == [f"{sandbox.api_url}/account"] * 2
    assert [r.ip for r in sandbox.requests("account.retrieve")] == ["127.0.0.2"] * 2
    assert [n.body.count("127.0.0.2") for n in sandbox.notices()] == [1]
    # The rest of the process is untouched: no proxy put in the environment, and a request
    # made the ordinary way (environment trusted) goes direct.
    assert not any(name.lower().endswith("_proxy") for name in os.environ)
    assert requests.get(f"{sandbox.url}/sandbox/omise.js", timeout=5).status_code == 200
    assert len(egress_proxy.seen) == 2
    # A client for settings without the proxy is another client, and goes direct.
    settings.OMISE_PROXY_URL = ""
    direct = get_client()
    direct.BACKOFF_SECONDS = 0
    assert direct is not client and direct.session.proxies == {}
    assert direct.retrieve_account()["object"] == "account"
    assert sandbox.requests("account.retrieve")[-1].ip == "127.0.0.1"
    assert len(egress_proxy.seen) == 2


def test_environment_proxies_are_ignored(sandbox, monkeypatch):
    """HTTP(S)_PROXY in the environment does not capture Omise calls (trust_env is off)."""
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")
    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:9")
    monkeypatch.setenv("NO_PROXY", "")
    client = client_for(sandbox)
    assert client.retrieve_account()["object"] == "account"
    client.close()
    omise.close_clients()
