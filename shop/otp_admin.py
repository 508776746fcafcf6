"""The admin site, behind a password *and* a verified TOTP device (django-otp).

Threat: a stolen, guessed or reused staff password opening the admin, where orders, customers
and security events live. Omise's guide asks for 2FA on "any e-commerce administrative
backend". With `ShopAdminSite` as Django's default admin site (see `shop.admin_auth_apps`), no
admin page is served to a session that was not verified by one of the user's *confirmed* OTP
devices; a staff user without a device cannot get past the login page.

Second factors accepted: the 6-digit code of a TOTP app (each code works once: django-otp
refuses a time step at or before the last one used), or a single-use static backup code. Both
device kinds throttle wrong codes with exponential back-off (OTP_*_THROTTLE_FACTOR, checked by
`shop.checks`). Wrong passwords are limited per username and per IP (`shop.admin_auth`).
Every refusal is recorded as a `SecurityEvent`.
"""

from django import forms
from django_otp.admin import OTPAdminAuthenticationForm, OTPAdminSite
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice

from shop.admin_auth import LOCKED_MESSAGE, LoginGuard
from shop.models import SecurityEvent
from shop.security_events import record_security_event

# Codes of these kinds are wrong second factors (not a missing field): each is recorded.
_OTP_FAILURE_CODES = {"invalid_token", "n_failed_attempts", "device_required", None}


def _looks_like_totp(token: str) -> bool:
    return len(token) == 6 and token.isdigit()


class ShopAdminLoginForm(OTPAdminAuthenticationForm):
    """Username, password and one code, checked in that order, each refusal counted."""

    otp_error_messages = {
        **OTPAdminAuthenticationForm.otp_error_messages,
        "token_required": "Enter the 6-digit code from your authenticator app, or a backup code.",
        "device_required": (
            "No two-factor device of this account accepts that kind of code. Staff without a "
            "device must be enrolled first: manage.py enroll_admin (see docs/admin.md)."
        ),
    }

    def clean(self):
        guard = LoginGuard(self.request, self.cleaned_data.get("username", ""))
        if guard.locked():
            # Refused before the password is checked: guessing during a lockout learns nothing.
            # Same words for real and unknown usernames.
            raise forms.ValidationError(LOCKED_MESSAGE, code="locked")
        try:
            # AdminAuthenticationForm.clean: the password, then is_active and is_staff.
            self.cleaned_data = super(OTPAdminAuthenticationForm, self).clean()
        except forms.ValidationError as error:
            if error.code == "invalid_login":
                guard.password_failed()
            raise
        try:
            self.clean_otp(self.get_user())
        except forms.ValidationError as error:
            if error.code in _OTP_FAILURE_CODES:
                record_security_event(
                    SecurityEvent.Kind.OTP_FAILURE, self.request, field_name="otp_token",
                    username=self.get_user().get_username(), reason=error.code or "throttled",
                )
            raise
        guard.succeeded()
        return self.cleaned_data

    def _chosen_device(self, user):
        """The device picked in the form, else the one the code's shape points to.

        Only *confirmed* devices count: an enrolment that was never finished (a QR code
        shown but never verified) must not be able to log anyone in.
        """
        device = super()._chosen_device(user)  # an explicit choice, checked to be the user's
        if device is None:
            token = (self.cleaned_data.get("otp_token") or "").strip()
            # 6 digits is a TOTP code; anything else is tried as a backup code. Picking one
            # device (rather than trying each) keeps a typo from throttling the other.
            model = TOTPDevice if _looks_like_totp(token) else StaticDevice
            device = (
                model.objects.select_for_update()
                .filter(user=user, confirmed=True).order_by("pk").first()
            )
        if device is not None and not device.confirmed:
            return None
        return device


class ShopAdminSite(OTPAdminSite):
    """Django's admin, refusing every session not verified by an OTP device."""

    site_header = "Storefront administration"
    site_title = "Storefront admin"
    login_form = ShopAdminLoginForm

    def __init__(self, name: str = "admin"):
        # Named "admin" so reverse("admin:…") and {% url 'admin:…' %} keep working.
        super().__init__(name)
