"""How mail leaves: EMAIL_URL (django-environ) in production, printed in development."""

import json

from tests.support import PRODUCTION, load_settings


def mailer(env, tmp_path) -> dict:
    result = load_settings(env, tmp_path, "__import__('json').dumps(settings.MAILERS['default'])")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_development_prints_mail(tmp_path):
    assert mailer({"DEBUG": "true"}, tmp_path) == {
        "BACKEND": "django.core.mail.backends.console.EmailBackend",
        "OPTIONS": {},
    }


def test_email_url_configures_smtp_with_tls_and_a_timeout(tmp_path):
    url = "smtp+tls://shop%40example.com:s3cret@smtp.example.com:587"
    config = mailer({**PRODUCTION, "EMAIL_URL": url}, tmp_path)
    assert config["BACKEND"] == "django.core.mail.backends.smtp.EmailBackend"
    assert config["OPTIONS"] == {
        "host": "smtp.example.com",
        "port": 587,
        "username": "shop@example.com",
        "password": "s3cret",
        "use_tls": True,
        "use_ssl": False,
        "timeout": 20,
    }


def test_email_url_with_implicit_tls(tmp_path):
    config = mailer({**PRODUCTION, "EMAIL_URL": "smtp+ssl://smtp.example.com:465"}, tmp_path)
    assert (config["OPTIONS"]["use_ssl"], config["OPTIONS"]["use_tls"]) == (True, False)


def test_email_url_can_print_in_development(tmp_path):
    config = mailer({"DEBUG": "true", "EMAIL_URL": "consolemail://"}, tmp_path)
    assert config["BACKEND"].endswith("console.EmailBackend") and config["OPTIONS"] == {}


def test_an_unknown_email_url_scheme_refuses_to_start(tmp_path):
    result = load_settings({**PRODUCTION, "EMAIL_URL": "carrier-pigeon://coop"}, tmp_path)
    assert result.returncode != 0 and "Invalid email schema" in result.stderr
