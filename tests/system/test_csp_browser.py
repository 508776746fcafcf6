"""The Content-Security-Policy in Chromium: the admin works under it, an injected script is not.

(The policy's headers and the violation reports without a browser: tests/security/test_csp.py.)
"""

import secrets

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse
from django_otp.plugins.otp_totp.models import TOTPDevice

from checkout.models import Order
from tests.staff import code_for


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_admin_works_under_the_policy_and_injected_script_is_blocked(live_server, page):
    """In Chromium the admin login renders with no CSP violation of its own (Django 6.1's admin
    needs no inline script), while a script injected into the page is blocked and raises the
    violation (with its sample) that the browser reports to /csp-report/."""
    console = []
    page.on("console", lambda message: console.append(message.text))
    page.goto(f"{live_server.url}/admin/login/")
    page.wait_for_load_state("networkidle")
    assert page.locator("form#login-form").is_visible()
    assert not [text for text in console if "Content Security Policy" in text]

    violation = page.evaluate("""() => new Promise(resolve => {
        document.addEventListener('securitypolicyviolation', event => resolve({
            blocked: event.blockedURI, directive: event.effectiveDirective,
            sample: event.sample, disposition: event.disposition}));
        const script = document.createElement('script');
        script.textContent = 'window.skimmed = true';
        document.body.appendChild(script);
    })""")
    assert page.evaluate("() => window.skimmed") is None  # it never ran
    assert violation == {
        "blocked": "inline",
        "directive": "script-src-elem",
        "sample": "window.skimmed = true",
        "disposition": "enforce",
    }


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_the_admin_works_under_its_policy_after_a_2fa_login(live_server, page):
    """Logged in with password and TOTP code in Chromium, staff use the dashboard, the
    monitoring page, an order list with its filters and actions, an order's page and the
    security events without a single CSP violation: the admin's own policy fits the admin."""
    password = secrets.token_urlsafe(16)
    user = get_user_model().objects.create_user(
        "operator", "operator@example.com", password, is_staff=True, is_superuser=True
    )
    device = TOTPDevice.objects.create(user=user, name="phone", confirmed=True)
    order = Order.objects.create(
        amount=129_000, currency="THB", email="malee@example.com", name="Malee Sukjai", country="TH"
    )
    violations = []
    page.on(
        "console",
        lambda message: (
            "Content Security Policy" in message.text and violations.append(message.text)
        ),
    )
    page.goto(f"{live_server.url}/admin/login/")
    page.fill("input[name=username]", "operator")
    page.fill("input[name=password]", password)
    page.fill("input[name=otp_token]", code_for(device))
    page.locator("form#login-form").get_by_role("button").click()
    page.wait_for_url(f"{live_server.url}/admin/")
    for path in (
        "/admin/",
        reverse("admin:checkout_monitoring"),
        reverse("admin:checkout_order_changelist"),
        reverse("admin:checkout_order_change", args=[order.pk]),
        reverse("admin:security_securityevent_changelist"),
    ):
        response = page.goto(f"{live_server.url}{path}")
        page.wait_for_load_state("networkidle")
        assert response.status == 200 and "/admin/login/" not in page.url, path
    page.goto(f"{live_server.url}{reverse('admin:checkout_order_changelist')}")
    page.get_by_role("checkbox", name="Select all objects on this page").check()
    assert page.locator(".action-counter").inner_text().startswith("1 of 1")  # admin JS ran
    assert violations == []
