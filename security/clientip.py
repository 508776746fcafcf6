"""The client's IP address as seen through the proxies we run, and the bucket it is counted in.

Threat 1, spoofing: a fraudster who sends `X-Forwarded-For: 1.2.3.4` to look like someone else,
to dodge velocity limits or poison the `ip` sent to Omise's fraud scoring. Only the entries
appended by our own `TRUSTED_PROXY_COUNT` proxies (nginx, a PaaS router) are believed, and only
when the request comes from one of them: a peer outside `TRUSTED_PROXY_NETWORKS` (someone
reaching gunicorn's port directly) is the client, whatever X-Forwarded-For it sends.

Threat 2, rotation: one IPv6 address is nothing to give up. Any VPS or home line gets a /64
(2^64 addresses), so counting each IPv6 address on its own lets one attacker send unlimited
card-testing declines, admin password guesses or junk reports, a fresh address each time. And a
request whose address cannot be read (a proxy writing `X-Forwarded-For: unknown`, an empty
REMOTE_ADDR) must not escape the per-IP limits either. So every per-IP limit counts
`rate_limit_bucket`, not the address:

- IPv4: the address itself (addresses are scarce; many share one behind a NAT already).
- IPv4 written as IPv6: the IPv4 address. `::ffff:a.b.c.d` (a dual-stack socket's view of an
  IPv4 client), and the two embeddings `ipaddress` decodes: 6to4 (`2002:aabb:ccdd::/48`, the
  whole /48 of the site behind IPv4 `aabb:ccdd`: unfolded it would be 65,536 /64 buckets for
  one IPv4 owner) and Teredo (`2001:0::/32`, whose *client* part is the public IPv4 of the
  NAT the host sits behind; unfolded, its /64 is the Teredo *server*, shared by strangers, and
  one client could hop between servers). Both can only receive our replies at that IPv4, so
  folding them never merges two real networks; both protocols are nearly extinct anyway.
- Other IPv6: its network at `RATE_LIMIT_IPV6_PREFIX` bits (64 by default; 56 or 48 where
  providers hand out those), whatever the text: compressed, expanded, upper case, bracketed
  or with a zone id (`%eth0`) all land in one bucket.
- Anything else ("", "unknown", junk): one shared bucket, `UNKNOWN_BUCKET`.

What is recorded and sent to Omise stays `client_ip`: the real address, not its bucket.
"""

import ipaddress
from functools import lru_cache

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest

# Every request whose address cannot be read is counted here, together (it is no valid address).
UNKNOWN_BUCKET = "unknown"
DEFAULT_IPV6_PREFIX = 64


def client_ip(request: HttpRequest) -> str:
    """The address of the hop just before our trusted proxies; "" if none is valid."""
    remote = request.META.get("REMOTE_ADDR", "")
    trusted = getattr(settings, "TRUSTED_PROXY_COUNT", 0)
    if trusted > 0 and _is_our_proxy(remote):
        forwarded = [
            part.strip()
            for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")
            if part.strip()
        ]
        # Each trusted proxy appends the address it saw: the client is `trusted` from the end,
        # counting REMOTE_ADDR (the nearest proxy) as the last hop.
        chain = [*forwarded, remote]
        if len(chain) > trusted:
            remote = chain[-1 - trusted]
    try:
        return str(ipaddress.ip_address(remote))
    except ValueError:
        return ""


def _is_our_proxy(address: str) -> bool:
    """Whether the peer is in TRUSTED_PROXY_NETWORKS ("*": any peer)."""
    networks = _networks(tuple(getattr(settings, "TRUSTED_PROXY_NETWORKS", ("*",))))
    if networks is None:
        return True
    try:
        peer = ipaddress.ip_address(address)
    except ValueError:
        return False
    if peer.version == 6 and peer.ipv4_mapped:
        peer = peer.ipv4_mapped  # a dual-stack socket's view of an IPv4 proxy
    return any(peer in network for network in networks)


@lru_cache(maxsize=8)
def _networks(spec: tuple[str, ...]):
    """The parsed networks, or None for "*"; a typo fails loudly rather than trust nobody."""
    if "*" in spec:
        return None
    try:
        return tuple(ipaddress.ip_network(item.strip(), strict=False) for item in spec)
    except ValueError as error:
        raise ImproperlyConfigured(f"TRUSTED_PROXY_NETWORKS: {error}") from None


def ipv6_prefix() -> int:
    """`RATE_LIMIT_IPV6_PREFIX`, refused outside 1..128 (the settings refuse it at start too)."""
    prefix = getattr(settings, "RATE_LIMIT_IPV6_PREFIX", DEFAULT_IPV6_PREFIX)
    if isinstance(prefix, bool) or not isinstance(prefix, int) or not 1 <= prefix <= 128:
        raise ImproperlyConfigured(
            f"RATE_LIMIT_IPV6_PREFIX must be an integer from 1 to 128, not {prefix!r}"
        )
    return prefix


def rate_limit_bucket(ip: str | None) -> str:
    """What a per-IP limit counts for this address (see the module docstring): an IPv4
    address, an IPv6 network such as "2001:db8:1:2::/64", or `UNKNOWN_BUCKET`."""
    text = (ip or "").strip()
    if text.startswith("[") and text.endswith("]"):
        text = text[1:-1]
    text = text.partition("%")[0]  # a zone id names an interface of ours, not the client
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return UNKNOWN_BUCKET
    if address.version == 4:
        return str(address)
    embedded = address.ipv4_mapped or address.sixtofour or (address.teredo or (None, None))[1]
    if embedded is not None:
        return str(embedded)
    return str(ipaddress.IPv6Network((address, ipv6_prefix()), strict=False))


def client_bucket(request: HttpRequest) -> str:
    """The rate-limit bucket of this request's client (`rate_limit_bucket(client_ip(…))`)."""
    return rate_limit_bucket(client_ip(request))
