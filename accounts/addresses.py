"""Client addresses: the one a request came from, and what the lockout and the throttles count
it as (an IPv6 client by its network, an address many members share on purpose at its own
limits), as staff read and search them."""

import contextlib
import functools
import ipaddress
import re
import unicodedata

from django.conf import settings
from django.db.models import Q

# IPv4 clients as an IPv6-only site's translator writes them (RFC 6052's well-known prefix).
_TRANSLATED = ipaddress.ip_network("64:ff9b::/96")


def client_ip(request) -> str | None:
    """The address the lockout counts and the security log records.

    With no proxy in front (JENCO_TRUSTED_PROXIES=0) that is the peer, REMOTE_ADDR. Behind N
    proxies that each append to X-Forwarded-For, it is the N-th entry from the right: the one
    our nearest trusted proxy saw. Anything further left a client could have written itself.
    """
    proxies = settings.JENCO_TRUSTED_PROXIES
    if proxies:
        forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")
        if len(forwarded) >= proxies:
            with contextlib.suppress(ValueError):
                return _plain(ipaddress.ip_address(_without_port(forwarded[-proxies].strip())))
    peer = request.META.get("REMOTE_ADDR") or None
    with contextlib.suppress(ValueError):
        return peer and _plain(ipaddress.ip_address(peer))
    return peer


def _plain(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str:
    """An IPv4 client as IPv4, however a dual-stack listener wrote it (::ffff:198.51.100.7):
    the log's entries found by its address, as its lockout records are (helper-125)."""
    return str(getattr(ip, "ipv4_mapped", None) or ip)


def network_of(address: str | None) -> str | None:
    """What the lockout and the throttles count an address as: an IPv4 address itself, an
    IPv6 address its network, the first JENCO_IPV6_PREFIX bits (64 unless set: a phone or a
    home line is given a /64 at least and may post from any address in it, so counted one by
    one, each client would have billions of fresh addresses; a line given a /56 or a /48
    still has 256 or 65,536 networks, unless the operator counts by those). An IPv4 address
    written as IPv6 (::ffff:203.0.113.7) is that IPv4 address, and so is the IPv4 host behind
    a 6to4 or Teredo address, which is the one client there, or behind a translator's
    (NAT64's well-known prefix, 64:ff9b::203.0.113.7: every IPv4 member, when one stands in
    front of the site). A zone (fe80::1%eth0) is left out. The security log keeps the
    address whole.
    """
    if not address:
        return None
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return address
    if ip.version == 4:
        return str(ip)
    host = (
        ip.ipv4_mapped
        or ip.sixtofour
        or (ip.teredo[1] if ip.teredo else None)
        or (ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF) if ip in _TRANSLATED else None)
    )
    if host is not None:
        return str(host)
    prefix = settings.JENCO_IPV6_PREFIX
    return str(ipaddress.ip_network(f"{ip}/{prefix}", strict=False).network_address)


def is_shared(counted: str | None) -> bool:
    """Whether an address as counted (network_of) is one many members share on purpose
    (JENCO_SHARED_ADDRESSES: an office, a migration event), whose per-address limits are
    JENCO_SHARED_ADDRESS_TIMES as high (accounts.lockout.address_limit,
    accounts.throttle.address_over_limit)."""
    return bool(counted) and counted in shared_addresses()


def shared_addresses() -> frozenset[str]:
    """JENCO_SHARED_ADDRESSES as the lockout counts addresses: each IPv4 address, each IPv6
    network of JENCO_IPV6_PREFIX (256 at most each, as the settings check)."""
    return _counted(tuple(settings.JENCO_SHARED_ADDRESSES), settings.JENCO_IPV6_PREFIX)


@functools.lru_cache(maxsize=4)
def _counted(networks: tuple[str, ...], prefix: int) -> frozenset[str]:
    return frozenset(address for text in networks for address in counted_as(text, prefix))


def counted_as(text: str, prefix: int) -> list[str]:
    """The addresses one entry of JENCO_SHARED_ADDRESSES stands for, as the lockout counts
    them (network_of) with IPv6 networks of `prefix` bits."""
    network = ipaddress.ip_network(text)
    if network.version == 4:
        return [str(address) for address in network]
    if network.prefixlen >= prefix:
        return [network_of(str(network.network_address))]
    if prefix - network.prefixlen > 8:  # the settings refuse it; a test may not
        raise ValueError(f"{text} is wider than JENCO_SHARED_ADDRESSES takes")
    return [network_of(str(each.network_address)) for each in network.subnets(new_prefix=prefix)]


def client_network(request) -> str | None:
    """The client's address as the lockout and the throttles count it (network_of)."""
    return network_of(client_ip(request))


def shown_network(counted: str | None) -> str:
    """A counted address (network_of) as staff read it: an IPv6 network with its prefix
    ("2001:db8:1:2::/64"), so no one takes it for the address of one client. One that is no
    such network (a whole address counted before networks were, or under another prefix)
    shows as it is."""
    if not counted:
        return ""
    prefix = settings.JENCO_IPV6_PREFIX
    if ":" not in counted or prefix == 128:
        return counted
    try:
        return str(ipaddress.ip_network(f"{counted}/{prefix}"))
    except ValueError:
        return counted


def asked_network(search_term: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network | None:
    """What a staff search names, if it is an address or a network, typed as staff may
    (full-width, in brackets as in a log line, with a prefix as the lockouts list shows
    it): a network (an address, a network of one); None if it is neither."""
    typed = unicodedata.normalize("NFKC", search_term).strip()
    if bracketed := re.fullmatch(r"\[([^\]]*)\](?::\d+)?", typed):
        typed = bracketed[1]
    try:
        return ipaddress.ip_network(typed.split("%", 1)[0], strict=False)
    except ValueError:
        return None


def records_in(network, *, counted: bool = False) -> Q:
    """The rows whose `ip_address` lies in a network staff searched for (asked_network). In
    the lockout's records (`counted`), one client's address finds the network it is counted
    as (an IPv6 client's /64); in the security log, which keeps addresses whole, one address
    finds itself, an IPv4 one written as IPv6 (::ffff:203.0.113.7) as the log keeps it (as
    IPv4). A wider network finds every row inside it."""
    one_client = network.prefixlen == network.max_prefixlen or (
        counted and network.version == 6 and network.prefixlen >= settings.JENCO_IPV6_PREFIX
    )
    if not one_client:
        return Q(ip_address__in_network=network)
    address = network.network_address
    return Q(ip_address=network_of(str(address)) if counted else _plain(address))


def _without_port(entry: str) -> str:
    """ "[2001:db8::1]:443" → "2001:db8::1", "203.0.113.7:5678" → "203.0.113.7"."""
    if entry.startswith("["):
        return entry[1 : entry.find("]")]
    if entry.count(":") == 1:
        return entry.split(":")[0]
    return entry
