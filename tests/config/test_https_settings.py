"""Production settings force HTTPS: redirect, HSTS, secure cookies, and a clean check --deploy.

Each test starts a fresh interpreter with a production environment (DEBUG unset), because
these settings are decided when config.settings is imported and the test suite itself runs in
development mode.
"""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import production_env

ROOT = Path(__file__).resolve().parents[2]
TWO_YEARS = 63_072_000


def run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(  # noqa: S603 - our own fixed command line
        [sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )


def check_deploy(env: dict[str, str]) -> subprocess.CompletedProcess:
    """`check --deploy` on a production host, which shares its cache between workers (Redis):
    the local-memory default is refused by shop.E006 (tests/security/test_deploy_checks.py),
    and sends its mails from a queue's worker (mails.W001). No check connects to the cache or
    the queue, so neither server is needed."""
    env = {
        "CACHE_URL": "redis://127.0.0.1:6379/0",
        "TASKS_BACKEND": "django_tasks_db.DatabaseBackend",
        **env,
    }
    return run(["manage.py", "check", "--deploy", "--fail-level", "WARNING"], env)


# Exercises the real production middleware stack from inside the production interpreter and
# prints what a browser would see, as JSON.
PROBE = """
import json
import django
django.setup()
from django.core.management import call_command
from django.http import HttpResponse
from django.middleware.csrf import CsrfViewMiddleware, get_token
from django.contrib.sessions.middleware import SessionMiddleware
from django.test import Client, RequestFactory

call_command("migrate", verbosity=0)
client = Client(HTTP_HOST="shop.example")
out = {}
plain = client.get("/cart/?step=1")
out["plain"] = [plain.status_code, plain.headers.get("Location")]
# /csp-report/ answers GET with 405 without rendering a template (no collectstatic needed).
spoofed = client.get("/csp-report/", HTTP_X_FORWARDED_PROTO="https")
out["forwarded"] = [spoofed.status_code, spoofed.headers.get("Location")]
secure = client.get("/csp-report/", secure=True)
out["https_headers"] = dict(secure.headers)

def view(request):
    request.session["seen"] = True
    get_token(request)
    return HttpResponse()

response = SessionMiddleware(CsrfViewMiddleware(view))(
    RequestFactory(HTTP_HOST="shop.example").get("/", secure=True)
)
out["cookies"] = {
    name: {attr: morsel[attr] for attr in ("secure", "httponly", "samesite", "path", "domain")}
    for name, morsel in response.cookies.items()
}
print(json.dumps(out))
"""


def probe(env: dict[str, str]) -> dict:
    result = run(["-c", PROBE], env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def production(tmp_path_factory) -> dict:
    """What the default production configuration answers (one interpreter for the module)."""
    return probe(production_env(tmp_path_factory.mktemp("prod")))


def test_check_deploy_passes_with_zero_warnings(tmp_path):
    """Django's deployment checklist finds nothing to warn about in production settings."""
    result = check_deploy(production_env(tmp_path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout, result.stdout + result.stderr


def test_check_deploy_warns_when_https_redirect_is_switched_off(tmp_path):
    """The check above has teeth: turning the HTTPS redirect off makes it fail (W008)."""
    result = check_deploy(production_env(tmp_path, SECURE_SSL_REDIRECT="false"))
    assert result.returncode != 0
    assert "security.W008" in result.stdout + result.stderr


def test_check_deploy_passes_with_hsts_preload_opted_in(tmp_path):
    """Opting in to HSTS preload is also clean, and the header then asks for preload."""
    env = production_env(tmp_path, SECURE_HSTS_PRELOAD="true")
    result = check_deploy(env)
    assert result.returncode == 0, result.stdout + result.stderr
    hsts = probe(env)["https_headers"]["Strict-Transport-Security"]
    assert hsts == f"max-age={TWO_YEARS}; includeSubDomains; preload"


def test_plain_http_is_redirected_permanently_to_https(production):
    """A plain-HTTP request gets a 301 to the same URL over HTTPS, never the page."""
    status, location = production["plain"]
    assert status == 301
    assert location == "https://shop.example/cart/?step=1"


def test_https_responses_carry_hsts_for_two_years_without_preload(production):
    """Over HTTPS the browser is told to refuse plain HTTP for two years, subdomains included;
    preload is not requested unless the merchant opts in."""
    headers = production["https_headers"]
    assert headers["Strict-Transport-Security"] == f"max-age={TWO_YEARS}; includeSubDomains"


def test_forwarded_proto_is_not_believed_without_a_configured_proxy(production):
    """A client that merely claims `X-Forwarded-Proto: https` is still redirected."""
    assert production["forwarded"][0] == 301


def test_forwarded_proto_is_believed_from_the_configured_proxy(tmp_path):
    """With SECURE_PROXY_SSL_HEADER set (nginx in front), the proxy's header marks HTTPS."""
    result = probe(production_env(tmp_path, SECURE_PROXY_SSL_HEADER="HTTP_X_FORWARDED_PROTO,https"))
    assert result["forwarded"][0] == 405  # reached the view: GET is not its method
    assert result["plain"][0] == 301  # without the header it is still plain HTTP


def test_a_malformed_proxy_header_setting_stops_startup(tmp_path):
    """A SECURE_PROXY_SSL_HEADER that is not 'HTTP_<NAME>,<value>' is refused, not guessed."""
    env = production_env(tmp_path, SECURE_PROXY_SSL_HEADER="X-Forwarded-Proto")
    result = check_deploy(env)
    assert result.returncode != 0
    assert "SECURE_PROXY_SSL_HEADER" in result.stderr


@pytest.mark.parametrize("name", ["__Host-sessionid", "__Host-csrftoken"])
def test_cookies_are_host_only_secure_httponly_and_samesite(production, name):
    """Session and CSRF cookies use the __Host- prefix: Secure, Path=/, no Domain; scripts
    cannot read them and cross-site POSTs do not carry them."""
    cookie = production["cookies"][name]
    assert cookie["secure"] is True
    assert cookie["httponly"] is True
    assert cookie["samesite"] == "Lax"
    assert cookie["path"] == "/"
    assert cookie["domain"] == ""
    assert set(production["cookies"]) == {"__Host-sessionid", "__Host-csrftoken"}


def test_production_pages_carry_the_browser_security_headers(production):
    """Production responses carry CSP, Permissions-Policy, nosniff, referrer and opener policy."""
    headers = production["https_headers"]
    assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]
    assert "camera=()" in headers["Permissions-Policy"]
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "same-origin"
    assert headers["Cross-Origin-Opener-Policy"] == "same-origin"
