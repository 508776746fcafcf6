"""The sandbox's pages and merchant-side features: card frame headers, Omise.js, the
dashboard, the "secret key used from a new IP" notice, fault hooks, no card number in logs."""

import logging

import pytest
import requests

pytestmark = pytest.mark.django_db(transaction=True)


def get(url, **kwargs):
    with requests.Session() as http:
        http.trust_env = False
        return http.get(url, timeout=10, **kwargs)


def test_card_frame_is_frameable_by_the_shop_only(sandbox):
    """The card frame drops X-Frame-Options and lets only the shop's origin frame it; its
    labels are Omise's and the button shows the amount."""
    response = get(
        f"{sandbox.sandbox_url}/sandbox/card-frame/",
        params={"key": "pkey_test_x", "amount": "129000", "currency": "thb"},
    )
    assert response.status_code == 200
    assert "X-Frame-Options" not in response.headers
    csp = response.headers["Content-Security-Policy"]
    assert f"frame-ancestors {sandbox.url}" in csp
    assert "'unsafe-inline'" not in csp
    for label in ("Card number", "Name on card", "Expiry date", "Security code"):
        assert f">{label}</label>" in response.text
    assert "Pay ฿1,290.00" in response.text


def test_other_sandbox_pages_keep_the_project_frame_policy(sandbox):
    """The dashboard is not frameable (X-Frame-Options DENY, frame-ancestors 'none')."""
    response = get(f"{sandbox.sandbox_url}/sandbox/")
    assert response.headers["X-Frame-Options"] == "DENY"
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]


def test_omise_js_is_served_as_javascript(sandbox):
    """OMISE_JS_URL points at the sandbox's Omise.js, which defines Omise and OmiseCard."""
    response = get(sandbox.settings.OMISE_JS_URL)
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/javascript")
    assert "window.Omise" in response.text and "window.OmiseCard" in response.text


def test_unknown_asset_is_not_found(sandbox):
    """Assets are served by name from a fixed list; anything else is a 404."""
    assert get(f"{sandbox.sandbox_url}/sandbox/assets/..%2Fmodels.py").status_code == 404
    assert get(f"{sandbox.sandbox_url}/sandbox/assets/models.py").status_code == 404


def test_first_use_of_the_secret_key_from_an_ip_raises_one_notice(sandbox):
    """Like Omise's e-mail: the first API call from an IP creates a notice naming it; later
    calls from the same IP do not; the dashboard shows it."""
    sandbox.client.retrieve_account()
    sandbox.client.retrieve_account()
    notices = sandbox.notices()
    assert len(notices) == 1
    assert "new IP" in notices[0].subject and "127.0.0.1" in notices[0].body
    dashboard = get(f"{sandbox.sandbox_url}/sandbox/")
    assert "Your secret key was used from a new IP" in dashboard.text


def test_dashboard_lists_charges_events_and_requests(sandbox):
    """The dashboard shows charges with their status, events and received requests."""
    charge = sandbox.client.create_charge(
        amount=20000, currency="THB", card=sandbox.token("4111111111140011")
    )
    page = get(f"{sandbox.sandbox_url}/sandbox/").text
    assert charge["id"] in page and "insufficient_fund" in page
    assert "charge.create" in page and "/sandbox/api/charges" in page


def test_fault_hook_validates_its_input(sandbox):
    """Faults name a known endpoint and kind; anything else is `bad_request`."""
    with pytest.raises(AssertionError, match="bad_request"):
        sandbox.fault("charges.explode")
    with pytest.raises(AssertionError, match="bad_request"):
        sandbox.fault("charges.create", "melt")
    assert sandbox.fault("tokens.create", "status", status=429)["remaining"] == 1


def test_faults_can_be_cleared(sandbox):
    """Clearing faults restores normal answers."""
    sandbox.fault("account.retrieve", "status", status=500, count=5)
    sandbox.clear_faults()
    assert sandbox.client.retrieve_account()["object"] == "account"


def test_vault_fault_answers_429(sandbox):
    """A 429 fault on the vault gives `too_many_requests`, as a rate-limited vault would."""
    sandbox.fault("tokens.create", "status", status=429)
    response = requests.post(
        f"{sandbox.vault_url}/tokens",
        json={"card": sandbox.card()},
        auth=(sandbox.settings.OMISE_PUBLIC_KEY, ""),
        timeout=5,
    )
    assert response.status_code == 429 and response.json()["code"] == "too_many_requests"


def test_no_card_number_in_logs(sandbox, caplog):
    """Tokenizing and charging log the last digits at most, never the number."""
    caplog.set_level(logging.DEBUG)
    sandbox.client.create_charge(
        amount=20000, currency="THB", card=sandbox.token("5555555555554444")
    )
    text = "\n".join(record.getMessage() for record in caplog.records)
    assert "4444" in text  # the sandbox did log the token creation…
    assert "5555555555554444" not in text  # …without the number


def test_3ds_page_has_authorize_and_fail_buttons(sandbox):
    """The 3-D Secure page offers two submit buttons, Authorize and Fail, and lets its form
    redirect to the shop (form-action includes the return origin)."""
    charge = sandbox.client.create_charge(
        amount=20000,
        currency="THB",
        card=sandbox.token("4000000000000002"),
        return_uri=f"{sandbox.url}/back",
    )
    page = get(charge["authorize_uri"])
    assert '<button type="submit" name="choice" value="authorize">Authorize</button>' in page.text
    assert 'value="fail" class="secondary">Fail</button>' in page.text
    assert f"form-action 'self' {sandbox.url}" in page.headers["Content-Security-Policy"]


def test_live_server_serves_no_repository_file(sandbox):
    """The test live server does not hand out the working tree (Django serves MEDIA_ROOT at
    MEDIA_URL, which default to the current directory and "/")."""
    for path in ("/config/settings.py", "/sandbox/models.py", "/pyproject.toml"):
        assert get(f"{sandbox.url}{path}").status_code == 404
