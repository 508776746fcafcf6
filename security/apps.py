"""The security app, and Django's admin app with the two-factor `ShopAdminSite` as its default.

`OTPAdminConfig` is listed in INSTALLED_APPS in place of "django.contrib.admin", so
`admin.site` and every `@admin.register` in the project land on the OTP-protected site: no
module can forget 2FA by registering on a plain `AdminSite`. The site is named by its dotted
path: app configs load before models, and the site module imports models.
"""

from django.apps import AppConfig
from django.contrib.admin import apps as admin_apps


class SecurityConfig(AppConfig):
    name = "security"
    verbose_name = "Security"
    default = True

    def ready(self):
        from security import checks  # noqa: F401  (system checks register on import)
        from security.logscrub import install_record_scrubbing

        install_record_scrubbing()  # no card number on any log record, from any logger


class OTPAdminConfig(admin_apps.AdminConfig):
    default = False
    default_site = "security.otp_admin.ShopAdminSite"
