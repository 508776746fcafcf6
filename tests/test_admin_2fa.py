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
from django.test import override_settings
from django_otp.oath import totp
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from shop import admin_auth
from shop.admin_auth import LOCKED_MESSAGE
from shop.models import SecurityEvent
from tests.staff import INDEX, LOGIN, code_for, log_in

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
    """A correct password alone never opens the admin: no device, no admin page."""
    response = log_in(client, "alice", password, "123456")
    assert response.status_code == 200  # the login page again
    assert "No two-factor device" in response.content.decode()
    assert client.get(INDEX).status_code == 302
    assert events(SecurityEvent.Kind.OTP_FAILURE).count() == 1


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
    """Username and password without a code: the login page asks for the code."""
    response = log_in(client, "alice", password, "")
    assert response.status_code == 200
    assert "Enter the 6-digit code" in response.content.decode()
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
    assert "Verification temporarily disabled" in response.content.decode()
    assert client.get(INDEX).status_code == 302
    device.refresh_from_db()
    assert device.throttling_failure_count == 1
    assert events(SecurityEvent.Kind.OTP_FAILURE).count() == 2


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
    later = admin_auth._now() + settings.ADMIN_LOGIN_COOL_OFF_SECONDS - 5
    monkeypatch.setattr(admin_auth, "_now", lambda: later)
    assert LOCKED_MESSAGE in log_in(client, "alice", password, code_for(device)).content.decode()
    monkeypatch.setattr(admin_auth, "_now", lambda: later + 10)
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
    assert LOCKED_MESSAGE in log_in(client, "alice", password, code_for(device),
                                    ip="").content.decode()
