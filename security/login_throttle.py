"""Limits on admin login attempts, per username and per client IP, with a cool-off.

Threat: online guessing against the admin, either many passwords for one username (brute
force), one password across many usernames from one address (password spraying), or codes
behind a password that leaked. A failure is any login that did not pass *both* factors: a
wrong password, an unknown, inactive or non-staff account, and a wrong, missing or throttled
second-factor code all count alike (`failed`), in the same counters, so the lockout cannot
tell a right password from a wrong one either. After `limit` failures within the cool-off
window the username, or the IP, is locked for `ADMIN_LOGIN_COOL_OFF_SECONDS`; while locked,
the password is not even checked, so guessing makes no progress. Counters are keyed on the
*submitted* username, whether or not it exists, so a lockout tells an attacker nothing about
which accounts are real. The IP counter counts the client's rate-limit bucket
(`security.clientip.client_bucket`): an IPv6 /64 is one IP, and unreadable addresses share one.

Counters live in Django's cache (Redis in production, so every worker shares them). A cache
flush forgets them: acceptable, because the second factor still stands behind the password.
"""

import hashlib
import time

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.http import HttpRequest

from security.clientip import UNKNOWN_BUCKET, client_bucket
from security.events import record_security_event
from security.models import SecurityEvent

DEFAULT_USERNAME_LIMIT = 5  # one person mistyping a password rarely fails 5 times in a row
DEFAULT_IP_LIMIT = 20  # higher: several staff may share an office NAT address
DEFAULT_COOL_OFF_SECONDS = 15 * 60

LOCKED_MESSAGE = "Too many failed login attempts. Try again later, or ask another administrator."
# The one answer to every login that did not pass both factors (security.otp_admin), whichever
# failed: telling "wrong code" from "wrong password" would confirm a leaked password.
FAILED_MESSAGE = (
    "Please enter the correct username and password for a staff account, and the current code "
    "from its authenticator app (or one of its backup codes). Note that all fields may be "
    "case-sensitive. Staff without a two-factor device must be enrolled first."
)


def _now() -> float:
    """Wall-clock seconds; a function of its own so tests can move time forward."""
    return time.time()


def _cool_off() -> int:
    return getattr(settings, "ADMIN_LOGIN_COOL_OFF_SECONDS", DEFAULT_COOL_OFF_SECONDS)


class _Counter:
    """Failures for one scope ("username" or "ip") and value, and that scope's lock."""

    def __init__(self, scope: str, value: str, limit: int):
        # Hashed: cache keys must be short and plain whatever a client submits.
        digest = hashlib.sha256(value.encode()).hexdigest()[:32]
        self.scope, self.limit = scope, limit
        self.failures_key = f"admin-login:{scope}:{digest}:failures"
        self.lock_key = f"admin-login:{scope}:{digest}:locked-until"

    def locked(self) -> bool:
        until = cache.get(self.lock_key)
        return until is not None and until > _now()

    def fail(self) -> bool:
        """Count one failure; True when this failure starts a lockout."""
        cool_off = _cool_off()
        cache.add(self.failures_key, 0, timeout=cool_off)  # the window opens at the 1st failure
        try:
            count = cache.incr(self.failures_key)  # atomic on Redis: no lost updates
        except ValueError:  # the window expired between add() and incr()
            cache.set(self.failures_key, 1, timeout=cool_off)
            count = 1
        if count < self.limit:
            return False
        cache.set(self.lock_key, _now() + cool_off, timeout=cool_off)
        cache.delete(self.failures_key)
        return True

    def reset(self) -> None:
        cache.delete_many([self.failures_key, self.lock_key])


class LoginGuard:
    """The per-username and per-IP limits that apply to one admin login attempt."""

    def __init__(self, request: HttpRequest | None, username: str):
        self.request = request
        # Case-folded: "Admin" and "admin" must not be two separate budgets of guesses.
        self.username = (username or "").strip().casefold()
        # An unknown address (a socket proxy, no REMOTE_ADDR, `X-Forwarded-For: unknown`)
        # shares one bucket rather than escaping the per-IP limit; an IPv6 client counts by
        # its /64 (RATE_LIMIT_IPV6_PREFIX), so rotating addresses inside it buys nothing.
        self.ip = client_bucket(request) if request is not None else UNKNOWN_BUCKET
        self.counters = [
            _Counter(
                "username",
                self.username,
                getattr(settings, "ADMIN_LOGIN_USERNAME_LIMIT", DEFAULT_USERNAME_LIMIT),
            ),
        ]
        self.counters.append(
            _Counter(
                "ip",
                self.ip,
                getattr(settings, "ADMIN_LOGIN_IP_LIMIT", DEFAULT_IP_LIMIT),
            )
        )

    def _recorded_username(self) -> str:
        """The username for the record, only if such an account exists: people type their
        password into the username box, and the event must not keep it."""
        exists = get_user_model().objects.filter(username__iexact=self.username).exists()
        return self.username[:150] if exists else "(no such account)"

    def locked(self) -> bool:
        return any(counter.locked() for counter in self.counters)

    def failed(
        self, kind: SecurityEvent.Kind, *, account: str = "", field_name: str = "", **detail
    ) -> None:
        """Count a failed login and record it as security events: `kind` says which factor
        failed (LOGIN_FAILURE, OTP_FAILURE), for the merchant only.

        Whichever it is, the same statements run (the account lookup of `_recorded_username`,
        one event, the counters), so the time taken does not tell them apart either.
        `account` is the username of an account that passed the password.
        """
        username = self._recorded_username()
        if account:
            username = account[:150]
        record_security_event(
            kind,
            self.request,
            field_name=field_name or "username",
            username=username,
            **detail,
        )
        for counter in self.counters:
            if counter.fail():
                record_security_event(
                    SecurityEvent.Kind.LOGIN_LOCKOUT,
                    self.request,
                    field_name="username",
                    username=username,
                    scope=counter.scope,
                    cool_off_seconds=_cool_off(),
                )

    def password_failed(self) -> None:
        """Count a wrong password (or an account that may not log in)."""
        self.failed(SecurityEvent.Kind.LOGIN_FAILURE)

    def otp_failed(self, account: str, reason: str) -> None:
        """Count a right password whose second factor failed (`reason`: invalid_token,
        token_required, device_required, throttled)."""
        self.failed(
            SecurityEvent.Kind.OTP_FAILURE, account=account, field_name="otp_token", reason=reason
        )

    def succeeded(self) -> None:
        """A full login (password and second factor): forget this username's failures.

        The IP counter is left to expire: a success by one person behind a shared address
        must not hand a guesser at the same address a fresh budget.
        """
        self.counters[0].reset()
