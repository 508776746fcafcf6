"""The client IP: believed only as far as our own proxies vouch for it."""

import pytest
from django.test import RequestFactory

from shop.clientip import client_ip


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
