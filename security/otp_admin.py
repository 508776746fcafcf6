"""The admin site, behind a password *and* a verified TOTP device (django-otp).

Threat: a stolen, guessed or reused staff password opening the admin, where orders, customers
and security events live. Omise's guide asks for 2FA on "any e-commerce administrative
backend". With `ShopAdminSite` as Django's default admin site (see `security.apps`), no
admin page is served to a session that was not verified by one of the user's *confirmed* OTP
devices; a staff user without a device cannot get past the login page.

Second threat: the second factor confirming the first. django-otp's login form answers a right
password with a wrong or missing code differently from a wrong password (its own messages,
"please select a device", "verification temporarily disabled", the password kept in the form,
a device choice and a challenge button), so a leaked or guessed password could be confirmed
without ever knowing a code, and wrong codes cost nothing. `ShopAdminLoginForm` therefore
checks both factors on every post and gives one answer until both pass: the same status, page
and message (`security.login_throttle.FAILED_MESSAGE`) for a wrong password, an unknown, inactive or
non-staff account, and a right password with a wrong, missing or throttled code or no confirmed
device. Every such failure counts in the same per-username and per-IP lockout
(`security.login_throttle.LoginGuard`); the lockout message is distinct, but it is shown before the
password is checked, whatever the password. The response time is the same too, because the
work is: the password is hashed once on every path (Django's ModelBackend hashes it even for
an unknown user), the device table is read and written once, and a failed password is followed
by a real verification of the code against a stand-in device that is never saved. A password
stored under an outdated hasher or fewer rounds is upgraded only once both factors pass: an
upgrade before the code is checked would cost one more hash and one UPDATE on a right password.

Second factors accepted: the 6-digit code of a TOTP app (each code works once: django-otp
refuses a time step at or before the last one used), or a single-use static backup code; the
code's shape picks the device (there is no device choice and no challenge: our devices are not
interactive). Both device kinds throttle wrong codes with exponential back-off
(OTP_*_THROTTLE_FACTOR, checked by `security.checks`). Every refusal is recorded as a
`SecurityEvent` saying which factor failed (LOGIN_FAILURE, OTP_FAILURE with a reason), for the
merchant's eyes only.
"""

from django import forms
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import check_password
from django.db import transaction
from django.db.models import F
from django.views.decorators.debug import sensitive_variables
from django_otp.admin import OTPAdminAuthenticationForm, OTPAdminSite
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice

from security.login_throttle import FAILED_MESSAGE, LOCKED_MESSAGE, LoginGuard

# The primary key of the stand-in device: no row has it (ids start at 1).
_STAND_IN_PK = -1


def _looks_like_totp(token: str) -> bool:
    return len(token) == 6 and token.isdigit()


def _write_nothing(model, *args, **kwargs) -> None:
    """The stand-in's `save`: the UPDATE of every column a real device's save issues, on a
    row that does not exist."""
    model.objects.filter(pk=_STAND_IN_PK).update(
        **{
            field.attname: F(field.attname)
            for field in model._meta.concrete_fields
            if not field.primary_key
        }
    )


def _stand_in(model):
    """An unsaved device of `model` (a fresh random TOTP key; a backup device with no codes)
    whose code check costs what a real one does, statements included, and changes nothing."""
    device = model(pk=_STAND_IN_PK, name="stand-in", confirmed=True)
    device.save = lambda *args, **kwargs: _write_nothing(model)
    return device


# The backend `login()` records for the session, as authenticate() would have set it.
_BACKEND = "django.contrib.auth.backends.ModelBackend"


@sensitive_variables("password")
def check_first_factor(username: str, password: str):
    """The user `username` names if `password` is theirs (active or not), else None, at the
    cost of one hash either way (an unknown user hashes the password too, as ModelBackend
    does). Unlike `authenticate()`, an outdated hash is left as it is: see `upgrade_hash`."""
    model = get_user_model()
    try:
        user = model._default_manager.get_by_natural_key(username)
    except model.DoesNotExist:
        model().set_password(password)  # the hash a real user's check costs
        return None
    if not check_password(password, user.password):  # no setter: nothing rehashed or saved
        return None
    user.backend = _BACKEND
    return user


@sensitive_variables("password")
def upgrade_hash(user, password: str) -> None:
    """After a full login: rehash a password stored under an outdated hasher or fewer rounds
    (Django's check does it, and saves, when the hash must be updated)."""
    user.check_password(password)


def verify_second_factor(user, token: str) -> tuple[object | None, str]:
    """Check `token` against `user`'s confirmed device of the code's kind: (the device, "") if
    it verified, else (None, why). `user` None (the password failed) still runs the same
    statements and the same code check, against a stand-in.

    6 digits is a TOTP code; anything else is tried as a backup code. Picking one device
    (rather than trying each) keeps a typo from throttling the other. Only *confirmed* devices
    count: an enrolment that was never finished (a QR code shown but never verified) must not
    be able to log anyone in. The device row is locked until the check is saved, so two posts
    of one code cannot both pass.
    """
    model = TOTPDevice if _looks_like_totp(token) else StaticDevice
    with transaction.atomic():
        device = (
            model.objects.select_for_update()
            .filter(user=user, confirmed=True)
            .order_by("pk")
            .first()
        )
        reason = "" if device is not None else "device_required"
        if not token:
            reason = "token_required"
        if reason:
            device = _stand_in(model)  # no real device is touched without a code to check
        allowed, _ = device.verify_is_allowed()
        if not allowed:
            _write_nothing(model)  # what a wrong code's throttle write would cost
            return None, reason or "throttled"
        if not device.verify_token(token):
            return None, reason or "invalid_token"
    return (None, reason) if reason else (device, "")


class ShopAdminLoginForm(OTPAdminAuthenticationForm):
    """Username, password and one code, all checked on every post; one answer to every
    failure, each counted (see the module docstring)."""

    # No device choice and no challenge button: the code's shape picks the device, and a form
    # that grew fields once the password was right would say that it was.
    otp_device = None
    otp_challenge = None

    @sensitive_variables("password")
    def clean(self):
        username = self.cleaned_data.get("username")
        password = self.cleaned_data.get("password")
        if username is None or not password:
            return self.cleaned_data  # a required field is empty: its own error says so
        guard = LoginGuard(self.request, username)
        if guard.locked():
            # Refused before the password is checked: guessing during a lockout learns nothing.
            # Same words for real and unknown usernames.
            raise forms.ValidationError(LOCKED_MESSAGE, code="locked")
        token = (self.cleaned_data.get("otp_token") or "").strip()
        # One password hash whoever it is (an unknown user's too), and nothing written yet.
        user = check_first_factor(username, password)
        may_log_in = user is not None and user.is_active and user.is_staff
        device, reason = verify_second_factor(user if may_log_in else None, token)
        if not may_log_in:
            guard.password_failed()
        elif device is None:
            guard.otp_failed(user.get_username(), reason)
        else:
            user.otp_device = device  # django-otp marks the session verified at login
            upgrade_hash(user, password)
            self.user_cache = user
            guard.succeeded()
            return self.cleaned_data
        # `get_user()` stays None: the page shown is the one a wrong password gets.
        raise forms.ValidationError(FAILED_MESSAGE, code="invalid_login")


class ShopAdminSite(OTPAdminSite):
    """Django's admin, refusing every session not verified by an OTP device."""

    site_header = "Storefront administration"
    site_title = "Storefront admin"
    login_form = ShopAdminLoginForm

    def __init__(self, name: str = "admin"):
        # Named "admin" so reverse("admin:…") and {% url 'admin:…' %} keep working.
        super().__init__(name)
