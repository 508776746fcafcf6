"""The client IP: believed only as far as our own proxies vouch for it; and the bucket it is
rate-limited in, so that rotating addresses inside one IPv6 /64 (or sending none) is no escape."""

import ipaddress

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.test import RequestFactory

from security.clientip import UNKNOWN_BUCKET, client_bucket, client_ip, rate_limit_bucket
from tests.support import load_settings


def request_from(remote: str, forwarded: str | None = None):
    extra = {"REMOTE_ADDR": remote}
    if forwarded is not None:
        extra["HTTP_X_FORWARDED_FOR"] = forwarded
    return RequestFactory().get("/", **extra)


def test_without_trusted_proxies_forwarded_for_is_ignored(settings):
    """With no proxy configured, a client's own X-Forwarded-For claim is not believed."""
    settings.TRUSTED_PROXY_COUNT = 0
    assert client_ip(request_from("203.0.113.9", "1.2.3.4")) == "203.0.113.9"


def test_one_trusted_proxy_uses_the_address_it_saw(settings):
    """Behind one proxy (nginx), the client is the last X-Forwarded-For entry it appended."""
    settings.TRUSTED_PROXY_COUNT = 1
    assert client_ip(request_from("127.0.0.1", "198.51.100.7")) == "198.51.100.7"


def test_spoofed_entries_before_ours_are_ignored(settings):
    """Entries a client prepended itself are skipped: only our proxy's entry counts."""
    settings.TRUSTED_PROXY_COUNT = 1
    spoofed = request_from("127.0.0.1", "6.6.6.6, 198.51.100.7")
    assert client_ip(spoofed) == "198.51.100.7"


@pytest.mark.parametrize("peer", ["203.0.113.9", "2001:db8::5", "::ffff:203.0.113.9", ""])
def test_forwarded_for_from_a_peer_that_is_not_our_proxy_is_ignored(settings, peer):
    """Someone reaching gunicorn's port directly (not through nginx) names no address: a peer
    outside TRUSTED_PROXY_NETWORKS is the client itself, whatever X-Forwarded-For says."""
    settings.TRUSTED_PROXY_COUNT = 1
    assert client_ip(request_from(peer, "198.51.100.7")) == (
        str(ipaddress.ip_address(peer)) if peer else ""
    )


@pytest.mark.parametrize(
    "peer",
    ["127.0.0.1", "::1", "10.1.2.3", "172.20.0.4", "192.168.1.1", "fd00::4", "::ffff:10.1.2.3"],
)
def test_our_proxies_on_loopback_or_a_private_network_are_believed(settings, peer):
    settings.TRUSTED_PROXY_COUNT = 1
    assert client_ip(request_from(peer, "198.51.100.7")) == "198.51.100.7"


def test_trusted_proxy_networks_can_name_a_public_router_or_any(settings):
    """A PaaS router at a public address: name its network, or "*" for any peer."""
    settings.TRUSTED_PROXY_COUNT = 1
    settings.TRUSTED_PROXY_NETWORKS = ["203.0.113.0/24"]
    assert client_ip(request_from("203.0.113.9", "198.51.100.7")) == "198.51.100.7"
    assert client_ip(request_from("127.0.0.1", "198.51.100.7")) == "127.0.0.1"
    settings.TRUSTED_PROXY_NETWORKS = ["*"]
    assert client_ip(request_from("198.18.0.1", "198.51.100.7")) == "198.51.100.7"
    settings.TRUSTED_PROXY_NETWORKS = ["10.0.0.0/33"]
    with pytest.raises(ImproperlyConfigured, match="TRUSTED_PROXY_NETWORKS"):
        client_ip(request_from("10.0.0.1", "198.51.100.7"))


def test_two_trusted_proxies(settings):
    """Behind a load balancer and nginx, the client is two hops back."""
    settings.TRUSTED_PROXY_COUNT = 2
    assert client_ip(request_from("10.0.0.2", "6.6.6.6, 198.51.100.7, 10.0.0.1")) == "198.51.100.7"


def test_short_chain_falls_back_to_remote_addr(settings):
    """A chain shorter than the proxies we expect gives the nearest address, never a guess."""
    settings.TRUSTED_PROXY_COUNT = 2
    assert client_ip(request_from("10.0.0.2", "")) == "10.0.0.2"


@pytest.mark.parametrize("garbage", ["not-an-ip", "1.2.3.999", "<script>"])
def test_invalid_addresses_give_empty_string(settings, garbage):
    """Anything that is not an IP address is reported as unknown rather than passed on."""
    settings.TRUSTED_PROXY_COUNT = 1
    assert client_ip(request_from("127.0.0.1", garbage)) == ""


def test_ipv6_is_normalised(settings):
    """IPv6 addresses come back in their canonical form."""
    settings.TRUSTED_PROXY_COUNT = 0
    assert client_ip(request_from("2001:DB8:0:0:0:0:0:1")) == "2001:db8::1"


# --- Rate-limit buckets: one attacker, one bucket ---------------------------------------------


@pytest.mark.parametrize("ip", ["203.0.113.9", "10.0.0.1", "127.0.0.1", "192.0.2.255"])
def test_an_ipv4_address_is_its_own_bucket(ip):
    """IPv4 addresses are scarce: each one is a bucket of its own."""
    assert rate_limit_bucket(ip) == ip


@pytest.mark.parametrize(
    "form",
    [
        "2001:db8:1:2::1",
        "2001:db8:1:2::ffff",
        "2001:db8:1:2:aaaa:bbbb:cccc:dddd",
        "2001:0db8:0001:0002:0000:0000:0000:0001",  # expanded
        "2001:DB8:1:2::ABCD",  # upper case
        "2001:db8:1:2::1%eth0",  # with a zone id
        "2001:db8:1:2:0:0:0:1",
        " 2001:db8:1:2::7 ",
        "[2001:db8:1:2::1]",
        "2001:db8:1:2::1.2.3.4",  # the last 32 bits written as IPv4
    ],
)
def test_every_address_of_one_ipv6_64_shares_one_bucket(form):
    """A VPS gets a /64 (2^64 addresses): rotating inside it, or rewriting an address in
    another textual form, never leaves the bucket."""
    assert rate_limit_bucket(form) == "2001:db8:1:2::/64"


def test_two_ipv6_64s_are_two_buckets():
    """Neighbouring /64s are different customers of the same host: separate buckets."""
    assert rate_limit_bucket("2001:db8:1:2::1") != rate_limit_bucket("2001:db8:1:3::1")
    assert rate_limit_bucket("2001:db8:1:3::1") == "2001:db8:1:3::/64"


@pytest.mark.parametrize(
    ("prefix", "bucket"),
    [
        (48, "2001:db8:1::/48"),
        (56, "2001:db8:1:200::/56"),
        (128, "2001:db8:1:2ff::1/128"),
    ],
)
def test_the_ipv6_prefix_is_a_setting(settings, prefix, bucket):
    """RATE_LIMIT_IPV6_PREFIX: /56 or /48 where hosts hand those out, /128 for one address."""
    settings.RATE_LIMIT_IPV6_PREFIX = prefix
    assert rate_limit_bucket("2001:db8:1:2ff::1") == bucket


@pytest.mark.parametrize(
    "mapped",
    [
        "::ffff:203.0.113.9",
        "::FFFF:203.0.113.9",
        "::ffff:cb00:7109",
        "0:0:0:0:0:ffff:cb00:7109",
        "::ffff:203.0.113.9%eth0",
        "2002:cb00:7109::1",  # 6to4: the site of 203.0.113.9
        "2002:cb00:7109:ffff::2",
        "2001:0:4136:e378:8000:63bf:34ff:8ef6",  # Teredo: the client's public IPv4, obfuscated
    ],
)
def test_ipv4_embedded_in_ipv6_is_the_ipv4s_bucket(mapped):
    """An IPv4 client seen through a dual-stack socket (::ffff:…), or a 6to4 / Teredo address
    that embeds it, counts with the IPv4 address: writing it as IPv6 is no new identity."""
    assert rate_limit_bucket(mapped) == "203.0.113.9"


@pytest.mark.parametrize(
    "garbage",
    [
        "",
        "   ",
        "unknown",
        "not-an-ip",
        "1.2.3.999",
        "<script>",
        "2001:db8::g",
        "::ffff:1.2.3",
        "1.2.3.4/24",
        "2001:db8::/64",
        "%eth0",
        None,
    ],
)
def test_anything_unparseable_shares_one_bucket(garbage):
    """No address (a socket proxy, `X-Forwarded-For: unknown`) is no escape from the limit:
    all such requests share one bucket."""
    assert rate_limit_bucket(garbage) == UNKNOWN_BUCKET == "unknown"


def test_client_bucket_reads_the_request_through_our_proxies(settings):
    """`client_bucket` is the bucket of `client_ip`: behind one proxy, its entry counts."""
    settings.TRUSTED_PROXY_COUNT = 1
    assert client_bucket(request_from("127.0.0.1", "2001:db8:1:2::99")) == "2001:db8:1:2::/64"
    assert client_bucket(request_from("127.0.0.1", "unknown")) == "unknown"
    assert client_bucket(request_from("127.0.0.1", "6.6.6.6, 198.51.100.7")) == "198.51.100.7"
    settings.TRUSTED_PROXY_COUNT = 0
    assert client_bucket(request_from("")) == "unknown"


def test_client_ip_still_gives_the_real_address(settings):
    """What is recorded and sent to Omise stays the address itself, not its bucket."""
    settings.TRUSTED_PROXY_COUNT = 0
    assert client_ip(request_from("2001:db8:1:2::99")) == "2001:db8:1:2::99"
    assert client_ip(request_from("::ffff:203.0.113.9")) == "::ffff:203.0.113.9"


@pytest.mark.parametrize("prefix", [0, 129, -1])
def test_an_impossible_prefix_is_refused_at_use(settings, prefix):
    """A prefix outside 1..128 set behind the settings' back is refused, never guessed."""
    settings.RATE_LIMIT_IPV6_PREFIX = prefix
    with pytest.raises(ImproperlyConfigured, match="RATE_LIMIT_IPV6_PREFIX"):
        rate_limit_bucket("2001:db8::1")


def test_the_prefix_defaults_to_64_and_is_read_from_the_environment(tmp_path):
    """Unset, a /64; RATE_LIMIT_IPV6_PREFIX=56 in the environment gives 56."""
    expr = "settings.RATE_LIMIT_IPV6_PREFIX"
    default = load_settings({"DEBUG": "true"}, tmp_path, expr)
    assert default.returncode == 0, default.stderr
    assert default.stdout.strip() == "64"
    set_ = load_settings({"DEBUG": "true", "RATE_LIMIT_IPV6_PREFIX": "56"}, tmp_path, expr)
    assert set_.returncode == 0, set_.stderr
    assert set_.stdout.strip() == "56"


@pytest.mark.parametrize("value", ["0", "129", "-64", "sixty-four"])
def test_a_bad_prefix_stops_the_app_at_start(tmp_path, value):
    """A prefix outside 1..128 (or not a number) refuses to start: no silent fallback."""
    result = load_settings({"DEBUG": "true", "RATE_LIMIT_IPV6_PREFIX": value}, tmp_path)
    assert result.returncode != 0
    assert "RATE_LIMIT_IPV6_PREFIX" in result.stderr or "invalid literal" in result.stderr
