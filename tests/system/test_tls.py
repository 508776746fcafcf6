"""deploy/nginx.conf, run for real: TLS 1.2+ only, exactly Omise's ciphers, HSTS, redirect.

A real nginx (Debian's package) is started with the production config — only ports, host name,
certificate paths and the upstream address are swapped — in front of the app (pytest-django's
live_server), with throw-away self-signed ECDSA and RSA certificates. `openssl s_client` then
probes it as an attacker's or an old browser's client would. The client is always allowed to
offer old protocols and weak ciphers (`@SECLEVEL=0`), so every refusal seen is the server's.
"""

import base64
import http.client
import os
import re
import shutil
import socket
import ssl
import subprocess
import time
from pathlib import Path

import pytest

from tests.support import require_executable

ROOT = Path(__file__).resolve().parents[2]
SITE_CONF = ROOT / "deploy" / "nginx.conf"
TLS_CONF = ROOT / "deploy" / "nginx-tls.conf"
HOST = "localhost"

# Omise's "Supported TLS Ciphers" (docs/security.md links the guide), in our preferred order:
# AEAD (GCM) first, then the CBC+SHA-2 suites.
OMISE_CIPHERS = [
    "ECDHE-ECDSA-AES128-GCM-SHA256",
    "ECDHE-RSA-AES128-GCM-SHA256",
    "ECDHE-ECDSA-AES256-GCM-SHA384",
    "ECDHE-RSA-AES256-GCM-SHA384",
    "ECDHE-ECDSA-AES128-SHA256",
    "ECDHE-RSA-AES128-SHA256",
    "ECDHE-ECDSA-AES256-SHA384",
    "ECDHE-RSA-AES256-SHA384",
]
# Well-known suites a weaker server would accept: no forward secrecy, SHA-1, DHE, ChaCha20.
OTHER_CIPHERS = [
    "AES128-SHA",
    "AES256-GCM-SHA384",
    "ECDHE-RSA-AES128-SHA",
    "ECDHE-ECDSA-AES256-SHA",
    "DHE-RSA-AES128-GCM-SHA256",
    "ECDHE-RSA-CHACHA20-POLY1305",
    "ECDHE-ECDSA-CHACHA20-POLY1305",
    "DES-CBC3-SHA",
]
WEAK = "@SECLEVEL=0"  # lets the client offer what OpenSSL 3 would otherwise refuse to send


def executable(name: str) -> str:
    """Debian puts nginx in /usr/sbin, which a user's PATH may lack."""
    found = shutil.which(name) or shutil.which(name, path="/usr/sbin:/usr/bin:/sbin:/bin")
    hint = "install Debian's nginx and openssl (make system-deps)"
    return require_executable(found or name, hint)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, process: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"server exited ({process.returncode}): {log.read_text()}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.05)
    pytest.fail(f"server did not listen on {port}: {log.read_text()}")


def make_certificates(openssl: str, directory: Path) -> dict[str, Path]:
    """Self-signed ECDSA (P-256) and RSA (2048) certificates for `localhost`, one day long."""
    keys = {
        "ecdsa": ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"],
        "rsa": ["-newkey", "rsa:2048"],
    }
    for kind, newkey in keys.items():
        (directory / kind).mkdir()
        subprocess.run(  # noqa: S603 - our own fixed command line
            [
                openssl,
                "req",
                "-x509",
                *newkey,
                "-nodes",
                "-days",
                "1",
                "-subj",
                f"/CN={HOST}",
                "-addext",
                f"subjectAltName=DNS:{HOST}",
                "-keyout",
                directory / kind / "privkey.pem",
                "-out",
                directory / kind / "fullchain.pem",
            ],
            check=True,
            capture_output=True,
        )
    return {kind: directory / kind / "fullchain.pem" for kind in keys}


def render_site(directory: Path, http_port: int, https_port: int, upstream_port: int) -> str:
    """deploy/nginx.conf with test ports, names and paths; every other line as in production."""
    site = SITE_CONF.read_text()
    swaps = [
        (r"/etc/letsencrypt/live/shop\.example\.com-rsa/", f"{directory}/rsa/"),
        (r"/etc/letsencrypt/live/shop\.example\.com/", f"{directory}/ecdsa/"),
        (r"shop\.example\.com", HOST),
        (r"include snippets/shop-tls\.conf;", f"include {TLS_CONF};"),
        (r"server 127\.0\.0\.1:8000;", f"server 127.0.0.1:{upstream_port};"),
        (r"/var/log/nginx/shop-access\.log", f"{directory}/access.log"),
        (r"\n\s*listen \[::\]:\d+[^;]*;", ""),  # no IPv6 in the sandboxed test
        (r"listen 80\b", f"listen 127.0.0.1:{http_port}"),
        (r"listen 443\b", f"listen 127.0.0.1:{https_port}"),
    ]
    for pattern, replacement in swaps:
        site, count = re.subn(pattern, replacement, site)
        assert count, f"deploy/nginx.conf no longer contains {pattern!r}: update this test"
    return site


@pytest.fixture(scope="module")
def tls_lab(live_server, tmp_path_factory):
    """nginx (production config) on loopback in front of the live app; yields its ports."""
    nginx, openssl = executable("nginx"), executable("openssl")
    directory = tmp_path_factory.mktemp("nginx")
    certs = make_certificates(openssl, directory)
    ports = {"http": free_port(), "https": free_port()}
    upstream_port = int(live_server.url.rsplit(":", 1)[1])
    site = render_site(directory, ports["http"], ports["https"], upstream_port)
    temp_paths = "\n".join(
        f"    {kind}_temp_path {directory}/{kind};"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    (directory / "nginx.conf").write_text(
        # As root, nginx's workers would switch to `nobody`, who cannot read pytest's tmp dir.
        ("user root;\n" if os.geteuid() == 0 else "")
        + "worker_processes 1;\nevents { worker_connections 64; }\n"
        + f"http {{\n    access_log off;\n{temp_paths}\n{site}\n}}\n"
    )
    log = directory / "error.log"
    process = subprocess.Popen(  # noqa: S603 - our own fixed command line
        [
            nginx,
            "-p",
            str(directory),
            "-c",
            str(directory / "nginx.conf"),
            "-g",
            f"daemon off; pid {directory}/nginx.pid; error_log {log} warn;",
        ],
        stdout=subprocess.DEVNULL,
        stderr=open(log, "a"),  # noqa: SIM115 - closed with nginx
    )
    try:
        wait_for_port(ports["https"], process, log)
        wait_for_port(ports["http"], process, log)
        yield {**ports, "openssl": openssl, "certs": certs, "access_log": directory / "access.log"}
    finally:
        process.terminate()
        process.wait(timeout=10)


def handshake(openssl: str, port: int, *options: str, servername: str = HOST):
    """(protocol, cipher) that `openssl s_client` negotiated, or None if the server refused."""
    result = subprocess.run(  # noqa: S603 - our own fixed command line
        [openssl, "s_client", "-connect", f"127.0.0.1:{port}", "-servername", servername, *options],
        input="",
        capture_output=True,
        text=True,
        timeout=20,
        env={**os.environ, "OPENSSL_CONF": "/dev/null"},  # no distro policy on the client side
    )
    # "New, <the cipher's own version>, Cipher is <cipher>" follows every handshake; the
    # session's real protocol is in the "SSL-Session:" block, which TLS 1.3 prints only once a
    # session ticket arrives, and then the cipher's version is the protocol's anyway.
    new = re.search(r"^New, (\S+), Cipher is (\S+)$", result.stdout, re.MULTILINE)
    session = re.search(r"^\s*Protocol\s*: (\S+)$", result.stdout, re.MULTILINE)
    if result.returncode != 0 or not new or new.group(2) == "(NONE)":
        return None
    return (session.group(1) if session else new.group(1)), new.group(2)


def tls12(lab, cipher: str):
    return handshake(lab["openssl"], lab["https"], "-tls1_2", "-cipher", f"{cipher}:{WEAK}")


def all_tls12_ciphers(openssl: str) -> list[str]:
    """Every TLS 1.2 cipher suite this OpenSSL can offer as a client."""
    result = subprocess.run(  # noqa: S603 - our own fixed command line
        [openssl, "ciphers", "-s", "-tls1_2", f"ALL:COMPLEMENTOFALL:{WEAK}"],
        capture_output=True,
        text=True,
        check=True,
    )
    return [name for name in result.stdout.strip().split(":") if not name.startswith("TLS_")]


# --- The configuration file itself -----------------------------------------------------------


def test_tls_include_lists_exactly_omises_ciphers_aead_first():
    """The ssl_ciphers line is the guide's eight ciphers, GCM before CBC, nothing else."""
    text = TLS_CONF.read_text()
    ciphers = re.search(r"^ssl_ciphers (\S+);", text, re.MULTILINE).group(1).split(":")
    assert ciphers == OMISE_CIPHERS
    assert re.search(r"^ssl_protocols TLSv1\.2 TLSv1\.3;$", text, re.MULTILINE)
    assert re.search(r"^ssl_session_tickets off;$", text, re.MULTILINE)
    assert re.search(r"^ssl_prefer_server_ciphers on;$", text, re.MULTILINE)


# --- The running server ----------------------------------------------------------------------


@pytest.mark.parametrize("protocol", ["-tls1", "-tls1_1"])
def test_tls_1_0_and_1_1_are_refused(tls_lab, protocol):
    """A client offering only TLS 1.0 or 1.1 (with any cipher) gets no connection."""
    assert (
        handshake(tls_lab["openssl"], tls_lab["https"], protocol, "-cipher", f"ALL:{WEAK}") is None
    )


def test_tls_1_3_is_accepted(tls_lab):
    """Modern clients get TLS 1.3."""
    negotiated = handshake(tls_lab["openssl"], tls_lab["https"], "-tls1_3")
    assert negotiated and negotiated[0] == "TLSv1.3"


@pytest.mark.parametrize("cipher", OMISE_CIPHERS)
def test_each_listed_cipher_is_accepted_over_tls_1_2(tls_lab, cipher):
    """Every cipher in Omise's list works with TLS 1.2 (ECDSA and RSA certificates both)."""
    assert tls12(tls_lab, cipher) == ("TLSv1.2", cipher)


@pytest.mark.parametrize("cipher", OTHER_CIPHERS)
def test_well_known_unlisted_ciphers_are_refused(tls_lab, cipher):
    """Suites outside the list — no forward secrecy, SHA-1, DHE, ChaCha20, 3DES — are refused."""
    assert tls12(tls_lab, cipher) is None


def test_tls_1_2_accepts_no_cipher_but_the_listed_ones(tls_lab):
    """Offered one by one, every TLS 1.2 suite OpenSSL knows is tried: only the list gets in."""
    candidates = all_tls12_ciphers(tls_lab["openssl"])
    assert len(candidates) > 40  # the probe really covers a wide range
    accepted = {cipher for cipher in candidates if tls12(tls_lab, cipher)}
    assert accepted == set(OMISE_CIPHERS)


def test_server_order_puts_gcm_first(tls_lab):
    """A client listing the CBC suites first still gets AES-GCM: the server's order wins."""
    offered = ":".join(reversed(OMISE_CIPHERS))
    _, cipher = tls12(tls_lab, offered)
    assert "GCM" in cipher


def test_unknown_host_names_get_no_handshake(tls_lab):
    """A client asking for another host name (a scanner, a forged Host) gets no certificate."""
    assert handshake(tls_lab["openssl"], tls_lab["https"], servername="other.example") is None


def test_the_probes_can_see_weak_tls_where_it_exists(tls_lab, tmp_path):
    """Control: against a deliberately weak server (openssl s_server, same certificates) the
    very same probes succeed, so the refusals above are nginx's doing, not the client's."""
    openssl, certs = tls_lab["openssl"], tls_lab["certs"]
    port = free_port()
    log = tmp_path / "s_server.log"
    server = subprocess.Popen(  # noqa: S603 - our own fixed command line
        [
            openssl,
            "s_server",
            "-accept",
            f"127.0.0.1:{port}",
            "-naccept",
            "10",
            "-cert",
            certs["rsa"],
            "-key",
            certs["rsa"].with_name("privkey.pem"),
            "-cipher",
            f"ALL:{WEAK}",
            "-min_protocol",
            "TLSv1",
        ],
        stdin=subprocess.PIPE,
        stdout=open(log, "w"),  # noqa: SIM115
        stderr=subprocess.STDOUT,
        env={**os.environ, "OPENSSL_CONF": "/dev/null"},
    )
    try:
        wait_for_port(port, server, log)
        assert handshake(openssl, port, "-tls1", "-cipher", f"ALL:{WEAK}")[0] == "TLSv1"
        assert handshake(openssl, port, "-tls1_1", "-cipher", f"ALL:{WEAK}")[0] == "TLSv1.1"
        assert handshake(openssl, port, "-tls1_2", "-cipher", f"AES128-SHA:{WEAK}") == (
            "TLSv1.2",
            "AES128-SHA",
        )
    finally:
        server.kill()
        server.wait(timeout=10)


# --- Through nginx to the app ----------------------------------------------------------------


def https_get(lab, path: str) -> http.client.HTTPResponse:
    context = ssl.create_default_context()
    for cert in lab["certs"].values():
        context.load_verify_locations(cafile=cert)
    connection = http.client.HTTPSConnection(HOST, lab["https"], context=context, timeout=20)
    connection.request("GET", path)
    return connection.getresponse()


def test_plain_http_is_redirected_to_https(tls_lab):
    """Port 80 answers every path with a permanent redirect to the same path over HTTPS."""
    connection = http.client.HTTPConnection("127.0.0.1", tls_lab["http"], timeout=20)
    connection.request("GET", "/cart/?step=1", headers={"Host": HOST})
    response = connection.getresponse()
    assert response.status == 301
    assert response.headers["Location"] == f"https://{HOST}/cart/?step=1"


def test_app_responses_come_through_https_with_hsts_and_the_apps_headers(tls_lab):
    """Over HTTPS the app's page arrives with HSTS (exactly once) and its own browser headers."""
    response = https_get(tls_lab, "/")
    assert response.status == 200
    assert response.headers.get_all("Strict-Transport-Security") == [
        "max-age=63072000; includeSubDomains"
    ]
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
    assert "camera=()" in response.headers["Permissions-Policy"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert "nginx/" not in (response.headers["Server"] or "")  # server_tokens off


def test_the_access_log_keeps_paths_but_no_query_strings(tls_lab):
    """nginx logs the request's path, never its query string, over HTTPS and plain HTTP: a
    card number typed into a GET form does not reach its disk. Nor one in the headers it
    would otherwise log as sent: User-Agent (logged as a family only), Referer, a Basic-auth
    user name."""
    https_get(tls_lab, "/cart/?q=4242+4242+4242+4242").read()
    connection = http.client.HTTPConnection("127.0.0.1", tls_lab["http"], timeout=20)
    headers = {
        "Host": HOST,
        "User-Agent": "Mozilla/5.0 (4242 4242 4242 4242) Gecko/20100101 Firefox/130.0",
        "Referer": f"https://{HOST}/cart/?card_number=4242424242424242",
        "Authorization": "Basic " + base64.b64encode(b"4242424242424242:x").decode(),
    }
    connection.request("GET", "/products/?card_number=4242424242424242", headers=headers)
    connection.getresponse().read()
    # nginx writes a request's line once it has answered: wait for both lines, a few seconds.
    deadline = time.monotonic() + 5
    while True:
        log = tls_lab["access_log"].read_text()
        both = '"GET /cart/ HTTP/1.1" 400' in log and '"GET /products/ HTTP/1.1" 301' in log
        if both or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert both, log
    assert '"firefox"' in log
    assert "4242" not in log and "?" not in log
