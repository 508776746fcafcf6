"""Django's admin app, with the two-factor `ShopAdminSite` as its default site.

Listed in INSTALLED_APPS in place of "django.contrib.admin", so `admin.site` and every
`@admin.register` in the project land on the OTP-protected site: no module can forget 2FA by
registering on a plain `AdminSite`. (A module of its own: app configs load before models, and
the site module imports models.)
"""

from django.contrib.admin.apps import AdminConfig


class OTPAdminConfig(AdminConfig):
    default_site = "shop.otp_admin.ShopAdminSite"
