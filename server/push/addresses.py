"""Where a push endpoint really points, and a connection pinned to the address that was checked
(issue #10 item 5, ADR 0014's SSRF part).

A host string says little: ``127.1``, ``0177.0.0.1``, ``0x7f.1``, ``2130706433``,
``169.254.169.254.`` and ``[::ffff:127.0.0.1]`` are all loopback or link-local, and a public name
can resolve to a private address (or to a different one at send time: DNS rebinding). So the host
is resolved with the system resolver (which reads the numeric forms exactly as a connection would)
at subscribe time and again before every send, every address is checked with :mod:`ipaddress`,
and the request connects to the address that passed, keeping the name for the ``Host`` header,
SNI and certificate checks.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.util import connection as urllib3_connection

Resolver = Callable[..., list]
IP = ipaddress.IPv4Address | ipaddress.IPv6Address
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


class Unresolvable(Exception):
    """The name has no address now (it may be a passing DNS failure)."""


class Blocked(Exception):
    """The name resolves to an address that is not a public one (the message names no address)."""


def embedded_v4(ip: IP) -> ipaddress.IPv4Address | None:
    """The IPv4 address hidden in an IPv6 one (mapped, 6to4, Teredo, NAT64), if any."""
    if not isinstance(ip, ipaddress.IPv6Address):
        return None
    if ip.ipv4_mapped:
        return ip.ipv4_mapped
    if ip.sixtofour:
        return ip.sixtofour
    if ip.teredo:
        return ip.teredo[1]
    if ip in _NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def is_public(ip: IP) -> bool:
    inner = embedded_v4(ip)
    if inner is not None and not is_public(inner):
        return False
    return ip.is_global and not ip.is_multicast


def looks_numeric(host: str) -> bool:
    """A host written as a number (``127.1``, ``0x7f.1``, ``2130706433``) rather than a DNS name: its
    last label has no letter, or is hex. Such a host must resolve (to a public address) to be used."""
    last = host.rstrip(".").rsplit(".", 1)[-1].lower()
    return ":" in host or not any(c.isalpha() for c in last) or last.startswith("0x")


def resolve(host: str, port: int, resolver: Resolver = socket.getaddrinfo) -> list[IP]:
    """Every address ``host`` resolves to (numeric forms included), in the resolver's order.
    A trailing dot (an absolute name) is dropped first: ``localhost.`` is ``localhost``."""
    host = host[:-1] if host.endswith(".") and not host.endswith("..") else host
    try:
        infos = resolver(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError, OSError) as exc:
        raise Unresolvable(type(exc).__name__) from None
    out: list[IP] = []
    for info in infos:
        ip = ipaddress.ip_address(info[4][0].split("%", 1)[0])
        if ip not in out:
            out.append(ip)
    if not out:
        raise Unresolvable("no address")
    return out


def checked_address(host: str, port: int, *, allow_loopback: bool = False,
                    resolver: Resolver = socket.getaddrinfo) -> IP:
    """The address to connect to: every resolved address must be public (loopback too, with the
    tests-only ``allow_loopback``), else :class:`Blocked`."""
    addresses = resolve(host, port, resolver)
    for ip in addresses:
        if not (is_public(ip) or (allow_loopback and ip.is_loopback)):
            raise Blocked("The endpoint's host resolves to a private, loopback or reserved address.")
    return addresses[0]


# -- connections pinned to a checked address -------------------------------------------------------
class _Pinned:
    pinned_ip: str = ""

    def _new_conn(self) -> socket.socket:
        # the checked address, never a fresh lookup; self.host (the name) stays for Host, SNI and the certificate
        return urllib3_connection.create_connection(
            (self.pinned_ip, self.port), self.timeout, source_address=self.source_address,
            socket_options=self.socket_options)


def pinned_adapter(ip: IP, **kwargs: Any) -> HTTPAdapter:
    """A requests adapter whose every connection goes to ``ip``."""
    http_conn = type("PinnedHTTPConnection", (_Pinned, HTTPConnection), {"pinned_ip": str(ip)})
    https_conn = type("PinnedHTTPSConnection", (_Pinned, HTTPSConnection), {"pinned_ip": str(ip)})
    http_pool = type("PinnedHTTPPool", (HTTPConnectionPool,), {"ConnectionCls": http_conn})
    https_pool = type("PinnedHTTPSPool", (HTTPSConnectionPool,), {"ConnectionCls": https_conn})

    class PinnedAdapter(HTTPAdapter):
        def init_poolmanager(self, *args: Any, **kw: Any) -> None:
            super().init_poolmanager(*args, **kw)
            self.poolmanager.pool_classes_by_scheme = {"http": http_pool, "https": https_pool}

    return PinnedAdapter(**kwargs)


def pinned_session(ip: IP) -> requests.Session:
    session = requests.Session()
    session.max_redirects = 0  # a push endpoint that redirects is refused, never followed
    session.trust_env = False  # no proxy or .netrc credentials leak to push services
    adapter = pinned_adapter(ip)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    return session
