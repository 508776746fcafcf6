"""What tests do as staff: log in to the 2FA admin with a password and a TOTP code.

`otp_admin_client` is made available to every test by tests/conftest.py.
"""

import secrets

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import MD5PasswordHasher
from django.test import Client
from django.urls import reverse
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

LOGIN = reverse("admin:login")
INDEX = reverse("admin:index")


def code_for(device) -> str:
    """The code an authenticator app shows right now for this device."""
    return f"{totp(device.bin_key, device.step, device.t0, device.digits, device.drift):06d}"


def log_in(client, username, password, token="", ip="198.51.100.7", **extra):
    """Post the admin's login form as a person would."""
    data = {"username": username, "password": password, "otp_token": token, "next": INDEX}
    data.update(extra)
    return client.post(LOGIN, data, REMOTE_ADDR=ip)


@pytest.fixture
def otp_admin_client(db):
    """A superuser's client that passed the real login form: password and a TOTP code."""
    password = secrets.token_urlsafe(16)
    user = get_user_model().objects.create_user(
        "operator", "operator@example.com", password, is_staff=True, is_superuser=True
    )
    device = TOTPDevice.objects.create(user=user, name="phone", confirmed=True)
    client = Client()
    response = log_in(client, "operator", password, code_for(device))
    assert response.status_code == 302 and response.url == INDEX, "admin login failed"
    client.user = user
    return client


class CountingHasher(MD5PasswordHasher):
    """The tests' hasher, counting how often a password is hashed."""

    calls = 0

    def encode(self, password, salt):
        type(self).calls += 1
        return super().encode(password, salt)


class LegacyHasher(MD5PasswordHasher):
    """A hasher the shop no longer prefers: a password stored with it must be upgraded."""

    algorithm = "legacy_md5"
