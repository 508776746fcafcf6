"""The admin requires a password and a second factor; guessing either is limited and recorded.

Also `manage.py enroll_admin`, the only way to make an admin (no default credentials)."""

import base64
import io
import re
import secrets
import sys
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.core.management import CommandError, call_command
from django.db import connection
from django.test import override_settings
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django_otp.oath import totp
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from security import login_throttle
from security.login_throttle import LOCKED_MESSAGE
from security.models import SecurityEvent
from tests.staff import INDEX, LOGIN, CountingHasher, code_for, log_in

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_counters():
    cache.clear()  # the login counters live in the cache, shared by all tests in the process
    yield
    cache.clear()


@pytest.fixture
def password():
    return secrets.token_urlsafe(16)


@pytest.fixture
def staff(password):
    return get_user_model().objects.create_user(
        "alice", "alice@example.com", password, is_staff=True, is_superuser=True
    )


@pytest.fixture
def device(staff):
    return TOTPDevice.objects.create(user=staff, name="phone", confirmed=True)


def wrong_code_for(device) -> str:
    """A 6-digit code accepted at no time step near now."""
    near = {
        f"{totp(device.bin_key, device.step, device.t0, device.digits, drift):06d}"
        for drift in range(-3, 4)
    }
    return next(c for c in (f"{n:06d}" for n in range(1_000_000)) if c not in near)


def error_notes(html: str) -> list[str]:
    """The error messages a login page shows."""
    return [m.strip() for m in re.findall(r'<p class="errornote">(.*?)</p>', html, re.S)]


def events(kind):
    return SecurityEvent.objects.filter(kind=kind)


def test_correct_password_and_totp_code_open_the_admin(client, staff, password, device):
    """A staff user with a confirmed TOTP device logs in with password + current code."""
    response = log_in(client, "alice", password, code_for(device))
    assert response.status_code == 302 and response["Location"] == INDEX
    assert client.get(INDEX).status_code == 200


def test_staff_without_device_cannot_log_in(client, staff, password):
    """A correct password alone never opens the admin: no device, no admin page (and the
    generic answer: "no device" would confirm the password)."""
    response = log_in(client, "alice", password, "123456")
    assert response.status_code == 200  # the login page again
    assert error_notes(response.content.decode()) == [login_throttle.FAILED_MESSAGE]
    assert client.get(INDEX).status_code == 302
    assert events(SecurityEvent.Kind.OTP_FAILURE).get().detail["reason"] == "device_required"


def test_unconfirmed_device_does_not_count(client, staff, password):
    """An enrolment never confirmed (QR shown, code never checked) cannot log anyone in."""
    pending = TOTPDevice.objects.create(user=staff, name="pending", confirmed=False)
    response = log_in(client, "alice", password, code_for(pending))
    assert response.status_code == 200
    assert client.get(INDEX).status_code == 302
    chosen = {"otp_device": pending.persistent_id}  # picked explicitly in the form
    response = log_in(client, "alice", password, code_for(pending), **chosen)
    assert response.status_code == 200
    assert client.get(INDEX).status_code == 302


def test_password_session_without_otp_is_refused(client, staff):
    """A session logged in by password only (no verified device) is sent to the login page."""
    client.force_login(staff)
    response = client.get(INDEX)
    assert response.status_code == 302 and response["Location"].startswith(LOGIN)


def test_missing_code_is_refused(client, staff, password, device):
    """Username and password without a code: the login page again, asking for all three."""
    response = log_in(client, "alice", password, "")
    assert response.status_code == 200
    assert error_notes(response.content.decode()) == [login_throttle.FAILED_MESSAGE]
    assert "current code" in login_throttle.FAILED_MESSAGE
    assert client.get(INDEX).status_code == 302


def test_wrong_code_is_refused_and_recorded(client, staff, password, device):
    """A wrong TOTP code is refused and recorded as an OTP failure with the client IP."""
    response = log_in(client, "alice", password, wrong_code_for(device), ip="203.0.113.9")
    assert response.status_code == 200
    assert client.get(INDEX).status_code == 302
    event = events(SecurityEvent.Kind.OTP_FAILURE).get()
    assert event.client_ip == "203.0.113.9"
    assert event.detail == {"username": "alice", "reason": "invalid_token"}


def test_a_code_works_only_once(client, staff, password, device):
    """A code already used (seen over a shoulder, or replayed) is refused the second time."""
    code = code_for(device)
    assert log_in(client, "alice", password, code).status_code == 302
    client.logout()
    response = log_in(client, "alice", password, code)
    assert response.status_code == 200
    assert client.get(INDEX).status_code == 302


def test_wrong_codes_throttle_the_device(client, staff, password, device):
    """After a wrong code, even the right code is refused until the back-off has passed."""
    log_in(client, "alice", password, wrong_code_for(device))
    response = log_in(client, "alice", password, code_for(device))
    assert response.status_code == 200
    assert error_notes(response.content.decode()) == [login_throttle.FAILED_MESSAGE]
    assert client.get(INDEX).status_code == 302
    device.refresh_from_db()
    assert device.throttling_failure_count == 1
    reasons = [
        event.detail["reason"] for event in events(SecurityEvent.Kind.OTP_FAILURE).order_by("pk")
    ]
    assert reasons == ["invalid_token", "throttled"]


@override_settings(OTP_TOTP_THROTTLE_FACTOR=1)
def test_throttle_delay_doubles_with_each_failure(staff, device):
    """The back-off is exponential: the required wait doubles with each consecutive failure."""
    for _ in range(3):
        assert not device.verify_token(wrong_code_for(device))
        # Let the current wait pass, so the next wrong code counts as another failure.
        device.throttling_failure_timestamp -= timedelta(minutes=5)
    device.throttling_failure_timestamp += timedelta(minutes=5)
    assert device.throttling_failure_count == 3
    allowed, detail = device.verify_is_allowed()
    assert not allowed
    wait = (detail["locked_until"] - device.throttling_failure_timestamp).total_seconds()
    assert wait == 4


def test_backup_code_works_once(client, staff, password):
    """A static backup code logs in once, then is gone."""
    backup = StaticDevice.objects.create(user=staff, name="backup", confirmed=True)
    token = StaticToken.random_token()
    backup.token_set.create(token=token)
    assert log_in(client, "alice", password, token).status_code == 302
    assert client.get(INDEX).status_code == 200
    client.logout()
    assert log_in(client, "alice", password, token).status_code == 200
    assert client.get(INDEX).status_code == 302


def test_wrong_passwords_lock_the_username(client, staff, password, device):
    """After 5 wrong passwords the username is locked: even the right password is refused."""
    for _ in range(5):
        assert log_in(client, "alice", "not-the-password").status_code == 200
    response = log_in(client, "alice", password, code_for(device))
    assert response.status_code == 200
    assert LOCKED_MESSAGE in response.content.decode()
    assert client.get(INDEX).status_code == 302
    assert events(SecurityEvent.Kind.LOGIN_FAILURE).count() == 5
    lockout = events(SecurityEvent.Kind.LOGIN_LOCKOUT).get()
    assert lockout.detail["scope"] == "username"


def test_username_lock_ignores_case(client, staff, password, device):
    """Varying the case of the username does not buy more guesses."""
    for name in ["alice", "Alice", "ALICE", "aLiCe", "alicE"]:
        log_in(client, name, "not-the-password")
    assert LOCKED_MESSAGE in log_in(client, "alice", password, code_for(device)).content.decode()


def test_lockout_does_not_reveal_whether_username_exists(client, staff):
    """An unknown username locks after the same count, with the same words."""
    for name in ["alice", "nobody"]:
        for _ in range(5):
            log_in(client, name, "not-the-password")
    real = log_in(client, "alice", "not-the-password").content.decode()
    unknown = log_in(client, "nobody", "not-the-password").content.decode()
    assert LOCKED_MESSAGE in real and LOCKED_MESSAGE in unknown
    assert error_notes(real) == error_notes(unknown) == [LOCKED_MESSAGE]


@override_settings(ADMIN_LOGIN_IP_LIMIT=3)
def test_wrong_passwords_lock_the_ip(client, staff, password, device):
    """Spraying passwords over many usernames from one IP locks that IP, not other IPs."""
    for name in ["bob", "carol", "dave"]:
        log_in(client, name, "not-the-password", ip="203.0.113.50")
    locked = log_in(client, "alice", password, code_for(device), ip="203.0.113.50")
    assert LOCKED_MESSAGE in locked.content.decode()
    assert events(SecurityEvent.Kind.LOGIN_LOCKOUT).get().detail["scope"] == "ip"
    assert log_in(client, "alice", password, code_for(device), ip="192.0.2.1").status_code == 302


def test_lockout_ends_after_the_cool_off(client, staff, password, device, monkeypatch, settings):
    """After ADMIN_LOGIN_COOL_OFF_SECONDS the username may try again."""
    for _ in range(5):
        log_in(client, "alice", "not-the-password")
    later = login_throttle._now() + settings.ADMIN_LOGIN_COOL_OFF_SECONDS - 5
    monkeypatch.setattr(login_throttle, "_now", lambda: later)
    assert LOCKED_MESSAGE in log_in(client, "alice", password, code_for(device)).content.decode()
    monkeypatch.setattr(login_throttle, "_now", lambda: later + 10)
    assert log_in(client, "alice", password, code_for(device)).status_code == 302


def test_wrong_password_is_recorded(client, staff):
    """Each wrong password is a LOGIN_FAILURE event with the submitted username and IP."""
    log_in(client, "alice", "not-the-password", ip="203.0.113.77")
    event = events(SecurityEvent.Kind.LOGIN_FAILURE).get()
    assert event.client_ip == "203.0.113.77"
    assert event.detail == {"username": "alice"}
    assert "not-the-password" not in str(event.detail)


def test_success_resets_the_username_counter(client, staff, password, device):
    """Four typos then a full login: the next typo starts counting from zero again."""
    for _ in range(4):
        log_in(client, "alice", "not-the-password")
    assert log_in(client, "alice", password, code_for(device)).status_code == 302
    client.logout()
    for _ in range(4):
        log_in(client, "alice", "not-the-password")
    assert not events(SecurityEvent.Kind.LOGIN_LOCKOUT).exists()


def test_non_staff_user_cannot_use_the_admin(client, password):
    """A customer account with a device still gets no admin: staff status is required."""
    user = get_user_model().objects.create_user("eve", "eve@example.com", password)
    dev = TOTPDevice.objects.create(user=user, name="phone", confirmed=True)
    assert log_in(client, "eve", password, code_for(dev)).status_code == 200
    assert client.get(INDEX).status_code == 302


# --- manage.py enroll_admin ------------------------------------------------------------------


def enroll(*args, monkeypatch, env_password=None, tty=False):
    """Run enroll_admin as a script (no terminal) or as in a terminal; return its output."""
    stdin = io.StringIO()
    stdin.isatty = lambda: tty
    monkeypatch.setattr(sys, "stdin", stdin)
    if env_password is not None:
        monkeypatch.setenv("ADMIN_PASSWORD", env_password)
        args = (*args, "--password-from-env", "ADMIN_PASSWORD")
    out = io.StringIO()
    call_command("enroll_admin", *args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def code_from_uri(uri: str, drift: int = 0) -> str:
    """What an authenticator app that scanned `uri` shows now."""
    parsed = urlsplit(uri)
    params = parse_qs(parsed.query)
    assert parsed.scheme == "otpauth" and parsed.netloc == "totp"
    assert params["digits"] == ["6"] and params["period"] == ["30"]
    secret = params["secret"][0]
    key = base64.b32decode(secret + "=" * (-len(secret) % 8))
    return f"{totp(key, drift=drift):06d}"


def uri_in(output: str) -> str:
    return re.search(r"otpauth://\S+", output).group(0)


def test_enroll_refuses_to_invent_a_password(monkeypatch):
    """Without a terminal or --password-from-env there is no password, so no user: no default."""
    with pytest.raises(CommandError, match="no default password"):
        enroll("root", monkeypatch=monkeypatch)
    assert not get_user_model().objects.exists()


def test_enroll_refuses_a_weak_password(monkeypatch):
    """The password validators apply: a short or common password is refused."""
    with pytest.raises(CommandError, match="Password refused"):
        enroll("root", monkeypatch=monkeypatch, env_password="password")
    assert not get_user_model().objects.exists()


def test_enroll_refuses_an_unset_variable(monkeypatch):
    """--password-from-env naming an empty variable fails instead of using an empty password."""
    monkeypatch.delenv("NO_SUCH_PASSWORD", raising=False)
    with pytest.raises(CommandError, match="NO_SUCH_PASSWORD"):
        enroll("root", "--password-from-env", "NO_SUCH_PASSWORD", monkeypatch=monkeypatch)


def test_enrolled_admin_logs_in_with_the_printed_uri(client, monkeypatch, password):
    """The printed otpauth URI (and its QR code) yields codes that open the admin."""
    output = enroll("root", monkeypatch=monkeypatch, env_password=password)
    user = get_user_model().objects.get(username="root")
    assert user.is_staff and user.is_superuser
    assert "▀" in output or "▄" in output or "█" in output  # the QR code drawn in the terminal
    assert password not in output
    response = log_in(client, "root", password, code_from_uri(uri_in(output)))
    assert response.status_code == 302
    assert client.get(INDEX).status_code == 200


def test_enroll_prints_working_backup_codes(client, monkeypatch, password):
    """--backup-codes N prints N single-use codes that each log in once."""
    output = enroll("root", "--backup-codes", "3", monkeypatch=monkeypatch, env_password=password)
    codes = re.findall(r"^  ([a-z2-7]{8})$", output, re.M)
    assert len(codes) == 3
    assert log_in(client, "root", password, codes[0]).status_code == 302
    client.logout()
    assert log_in(client, "root", password, codes[0]).status_code == 200


def test_re_enrolling_replaces_the_lost_device(client, monkeypatch, password):
    """Enrolling an existing admin again: the old device stops working, the password stays."""
    old_uri = uri_in(enroll("root", monkeypatch=monkeypatch, env_password=password))
    new_uri = uri_in(enroll("root", monkeypatch=monkeypatch))
    assert new_uri != old_uri
    assert log_in(client, "root", password, code_from_uri(new_uri)).status_code == 302
    client.logout()
    assert log_in(client, "root", password, code_from_uri(old_uri)).status_code == 200
    assert client.get(INDEX).status_code == 302


def test_interactive_enrolment_confirms_the_device_with_a_code(monkeypatch, password):
    """In a terminal the device counts only after the user typed a code from the app."""
    monkeypatch.setattr("getpass.getpass", lambda prompt="": password)
    # A user typing something that is not the app's code: refused 3 times, then the end.
    monkeypatch.setattr("builtins.input", lambda prompt="": "not-a-code")
    with pytest.raises(CommandError, match="not confirmed"):
        enroll("root", monkeypatch=monkeypatch, tty=True)
    assert not TOTPDevice.objects.get(user__username="root").confirmed

    def the_app_shows(prompt=""):
        return code_from_uri(TOTPDevice.objects.get(user__username="root").config_url)

    monkeypatch.setattr("builtins.input", the_app_shows)
    enroll("root", "--set-password", monkeypatch=monkeypatch, tty=True)
    assert TOTPDevice.objects.get(user__username="root").confirmed


def test_a_password_typed_as_the_username_is_not_recorded(client, staff):
    """A username that names no account (often the password, typed in the wrong box) is not
    kept in the security event."""
    log_in(client, "Secret-P4ssword!", "whatever")
    event = events(SecurityEvent.Kind.LOGIN_FAILURE).get()
    assert event.detail == {"username": "(no such account)"}


@override_settings(ADMIN_LOGIN_IP_LIMIT=3)
def test_an_unknown_address_is_still_limited(client, staff, password, device):
    """Requests without a client address share one bucket instead of escaping the IP limit."""
    for name in ["bob", "carol", "dave"]:
        log_in(client, name, "not-the-password", ip="")
    assert (
        LOCKED_MESSAGE
        in log_in(client, "alice", password, code_for(device), ip="").content.decode()
    )


# --- Per-IP counting: IPv6 /64s and unknown addresses --------------------------------------


@override_settings(ADMIN_LOGIN_IP_LIMIT=3, TRUSTED_PROXY_COUNT=0)
def test_rotating_addresses_inside_one_ipv6_64_locks_the_64(client, staff, password, device):
    """Spraying from a new address of one /64 each time (any textual form) is one IP: the
    whole /64 is locked; the /64 next door is not."""
    for name, ip in [
        ("bob", "2001:db8:5:6::1"),
        ("carol", "2001:0db8:0005:0006:0:0:0:2"),
        ("dave", "2001:DB8:5:6:FFFF::3"),
    ]:
        log_in(client, name, "not-the-password", ip=ip)
    locked = log_in(client, "alice", password, code_for(device), ip="2001:db8:5:6:abcd::9")
    assert LOCKED_MESSAGE in locked.content.decode()
    lockout = events(SecurityEvent.Kind.LOGIN_LOCKOUT).get()
    assert lockout.detail["scope"] == "ip" and lockout.client_ip == "2001:db8:5:6:ffff::3"
    assert (
        log_in(client, "alice", password, code_for(device), ip="2001:db8:5:7::1").status_code == 302
    )


def forwarded_log_in(client, username, password, token="", forwarded="unknown"):
    """A login through our one proxy, which names the client in X-Forwarded-For."""
    data = {"username": username, "password": password, "otp_token": token, "next": INDEX}
    return client.post(LOGIN, data, REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR=forwarded)


@override_settings(ADMIN_LOGIN_IP_LIMIT=3, TRUSTED_PROXY_COUNT=1)
def test_forwarded_for_unknown_is_counted_in_a_shared_bucket(client, staff, password, device):
    """`X-Forwarded-For: unknown` (or junk) behind our proxy is one shared bucket: it is
    locked like an address, while a real address behind the same proxy is not."""
    for name, forwarded in [("bob", "unknown"), ("carol", "-"), ("dave", "unknown")]:
        forwarded_log_in(client, name, "not-the-password", forwarded=forwarded)
    locked = forwarded_log_in(client, "alice", password, code_for(device), forwarded="junk")
    assert LOCKED_MESSAGE in locked.content.decode()
    assert events(SecurityEvent.Kind.LOGIN_LOCKOUT).get().detail["scope"] == "ip"
    fine = forwarded_log_in(client, "alice", password, code_for(device), forwarded="192.0.2.8")
    assert fine.status_code == 302


# --- One answer for every failure: the second factor does not confirm the first -------------


def page_of(response) -> str:
    """The login page as an attacker compares it: everything but the CSRF token and the CSP
    nonce, which change on every response anyway."""
    html = response.content.decode()
    html = re.sub(r'name="csrfmiddlewaretoken" value="[^"]*"', 'name="csrfmiddlewaretoken"', html)
    return re.sub(r'nonce="[^"]*"', 'nonce=""', html)


def throttle(device):
    device.throttling_failure_count, device.throttling_failure_timestamp = 3, timezone.now()
    device.save()


# Each: who exists, then what is posted. The password is right in every case but the first
# two; each must answer exactly as the same post with a wrong password does.
SAME_AS_A_WRONG_PASSWORD = {
    "wrong password": ("staff+device", "alice", "wrong", "right code"),
    "unknown user": ("staff+device", "nobody", "right", "right code"),
    "right password, wrong code": ("staff+device", "alice", "right", "wrong code"),
    "right password, empty code": ("staff+device", "alice", "right", ""),
    "right password, backup-shaped wrong code": ("staff+device", "alice", "right", "abcdefgh"),
    "right password, no device": ("staff", "alice", "right", "123456"),
    "right password, unconfirmed device": ("staff+pending", "alice", "right", "right code"),
    "right password, throttled device": ("staff+throttled", "alice", "right", "right code"),
    "right password, challenge asked": ("staff+device", "alice", "right", "challenge"),
    "right password, device chosen": ("staff+device", "alice", "right", "chosen"),
    "inactive staff, right password and code": ("inactive+device", "alice", "right", "right code"),
    "non-staff, right password and code": ("customer+device", "alice", "right", "right code"),
}


@pytest.mark.parametrize(
    "case", SAME_AS_A_WRONG_PASSWORD.values(), ids=SAME_AS_A_WRONG_PASSWORD.keys()
)
def test_every_failure_answers_like_a_wrong_password(client, password, case):
    """Whatever is wrong — the password, the account, or only the second factor — the answer
    is the same status and the same page, field for field, with one generic message: a leaked
    password cannot be confirmed without the code."""
    accounts, username, given, code = case
    kind, _, device_state = accounts.partition("+")
    user = get_user_model().objects.create_user(
        "alice",
        "alice@example.com",
        password,
        is_staff=kind != "customer",
        is_active=kind != "inactive",
    )
    device = None
    if device_state:
        device = TOTPDevice.objects.create(
            user=user, name="phone", confirmed=device_state != "pending"
        )
        if device_state == "throttled":
            throttle(device)
    extra = {}
    if code == "challenge":
        code, extra = wrong_code_for(device), {"otp_challenge": "Get OTP Challenge"}
    elif code == "chosen":
        code, extra = wrong_code_for(device), {"otp_device": device.persistent_id}
    elif code == "right code":
        code = code_for(device)
    elif code == "wrong code":
        code = wrong_code_for(device)
    answers = []
    for attempt_password in [
        password if given == "right" else "not-the-password",
        "not-the-password",
    ]:
        cache.clear()  # no lockout in between: the pages compared are the failures themselves
        answers.append(log_in(client, username, attempt_password, code, **extra))
    tried, wrong = answers
    assert tried.status_code == wrong.status_code == 200
    assert page_of(tried) == page_of(wrong)
    assert error_notes(tried.content.decode()) == [login_throttle.FAILED_MESSAGE]
    assert 'name="otp_device"' not in tried.content.decode()
    assert 'name="otp_challenge"' not in tried.content.decode()
    assert client.get(INDEX).status_code == 302


def test_wrong_codes_count_toward_the_username_lockout(client, staff, password, device):
    """Five wrong codes behind the right password lock the username, as five wrong passwords
    do: the second factor cannot be guessed at leisure either."""
    for _ in range(5):
        log_in(client, "alice", password, wrong_code_for(device))
        device.throttling_failure_count = 0  # not the device's own back-off: the lockout's
        device.save()
    response = log_in(client, "alice", password, code_for(device))
    assert LOCKED_MESSAGE in response.content.decode()
    assert client.get(INDEX).status_code == 302
    assert events(SecurityEvent.Kind.OTP_FAILURE).count() == 5
    assert not events(SecurityEvent.Kind.LOGIN_FAILURE).exists()
    assert events(SecurityEvent.Kind.LOGIN_LOCKOUT).get().detail["scope"] == "username"


def test_password_and_code_failures_share_one_count(client, staff, password, device):
    """Wrong passwords and wrong or missing codes are one budget: 2 + 2 + 1 is five."""
    for attempt in [
        ("not-the-password", ""),
        (password, wrong_code_for(device)),
        ("not-the-password", "123456"),
        (password, ""),
        (password, "abcdefgh"),
    ]:
        log_in(client, "alice", *attempt)
    assert LOCKED_MESSAGE in log_in(client, "alice", password, code_for(device)).content.decode()
    assert events(SecurityEvent.Kind.LOGIN_LOCKOUT).get().detail["scope"] == "username"


@override_settings(ADMIN_LOGIN_IP_LIMIT=3)
def test_wrong_codes_count_toward_the_ip_lockout(client, password):
    """Three accounts whose passwords leaked, a wrong code for each from one IP: the IP is
    locked."""
    users = [
        get_user_model().objects.create_user(name, f"{name}@example.com", password, is_staff=True)
        for name in ["bob", "carol"]
    ]
    devices = [TOTPDevice.objects.create(user=user, name="phone", confirmed=True) for user in users]
    log_in(client, "bob", password, wrong_code_for(devices[0]), ip="203.0.113.60")
    log_in(client, "carol", password, "", ip="203.0.113.60")
    log_in(client, "dave", password, "123456", ip="203.0.113.60")
    locked = log_in(client, "carol", password, code_for(devices[1]), ip="203.0.113.60")
    assert LOCKED_MESSAGE in locked.content.decode()
    assert events(SecurityEvent.Kind.LOGIN_LOCKOUT).get().detail["scope"] == "ip"


def test_the_merchant_still_sees_which_factor_failed(client, staff, password, device):
    """The attacker sees one message; the security events still tell the merchant what
    failed, so a known password is noticed."""
    cases = [
        ("not-the-password", code_for(device)),
        (password, wrong_code_for(device)),
        (password, ""),
    ]
    for attempt in cases:
        log_in(client, "alice", *attempt)
    assert [event.detail for event in SecurityEvent.objects.order_by("pk")] == [
        {"username": "alice"},
        {"username": "alice", "reason": "invalid_token"},
        {"username": "alice", "reason": "token_required"},
    ]
    assert [event.kind for event in SecurityEvent.objects.order_by("pk")] == [
        SecurityEvent.Kind.LOGIN_FAILURE,
        SecurityEvent.Kind.OTP_FAILURE,
        SecurityEvent.Kind.OTP_FAILURE,
    ]


def work_of(client, *args, **extra):
    """What one login post costs the server: password hashes, and database statements by
    kind and table (savepoints included)."""
    cache.clear()
    CountingHasher.calls = 0
    with CaptureQueriesContext(connection) as queries:
        response = log_in(client, *args, **extra)
    assert response.status_code == 200
    # (verb, first table): SELECT "auth_user", SAVEPOINT, UPDATE "otp_totp_totpdevice", …
    shapes = [
        (query["sql"].split()[0], *re.findall(r'(?:FROM|UPDATE|INTO) "(\w+)"', query["sql"])[:1])
        for query in queries.captured_queries
    ]
    assert shapes  # the login did reach the database
    return CountingHasher.calls, shapes


@override_settings(PASSWORD_HASHERS=["tests.staff.CountingHasher"])
def test_a_wrong_password_costs_what_a_wrong_code_costs(client, password):
    """No timing oracle: a wrong password, an unknown user, and the right password with a wrong
    or missing code (or no device, or a throttled one) each hash the password once and run the
    same database statements, so the response time says nothing about the password."""
    staff = get_user_model().objects.create_user("alice", "a@example.com", password, is_staff=True)
    device = TOTPDevice.objects.create(user=staff, name="phone", confirmed=True)
    backup = StaticDevice.objects.create(user=staff, name="backup", confirmed=True)
    backup.token_set.create(token=StaticToken.random_token())
    get_user_model().objects.create_user("bob", "b@example.com", password, is_staff=True)
    wrong = wrong_code_for(device)
    baseline = work_of(client, "alice", "not-the-password", wrong)
    assert baseline[0] == 1
    for args in [
        ("nobody", "not-the-password", wrong),
        ("alice", password, wrong),
        ("bob", password, wrong),
    ]:  # bob has no device
        assert work_of(client, *args) == baseline, args
    throttle(device)
    assert work_of(client, "alice", password, code_for(device)) == baseline
    # A code of another shape (a backup code, or none) is checked against the backup device:
    # it costs the same whether the password was right or not.
    for code in ["", "abcdefgh"]:
        assert (
            work_of(client, "alice", password, code)
            == work_of(client, "alice", "not-the-password", code)
            == work_of(client, "nobody", "not-the-password", code)
        ), code


@override_settings(PASSWORD_HASHERS=["tests.staff.CountingHasher", "tests.staff.LegacyHasher"])
def test_an_outdated_hash_is_upgraded_only_after_both_factors(client, password):
    """Django upgrades an outdated hash when it checks the right password, which costs one more
    hash and an UPDATE: done before the code is checked, it would confirm the password. Here a
    right password with a wrong code costs what a wrong one does and changes nothing; the
    upgrade waits for the full login."""
    from django.contrib.auth.hashers import make_password

    staff = get_user_model().objects.create_user("alice", "a@example.com", is_staff=True)
    staff.password = make_password(password, hasher="legacy_md5")
    staff.save()
    device = TOTPDevice.objects.create(user=staff, name="phone", confirmed=True)
    wrong = wrong_code_for(device)
    assert work_of(client, "alice", password, wrong) == work_of(
        client, "alice", "not-the-password", wrong
    )
    staff.refresh_from_db()
    assert staff.password.startswith("legacy_md5$")
    cache.clear()
    TOTPDevice.objects.get(pk=device.pk).throttle_reset()  # the two wrong codes' back-off
    assert log_in(client, "alice", password, code_for(device)).status_code == 302
    staff.refresh_from_db()
    assert staff.password.startswith("md5$") and staff.check_password(password)
