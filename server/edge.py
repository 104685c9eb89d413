"""What every response and every request passes at the edge: the client's address behind trusted
proxies, the request id, and the security headers (HSTS, CSP).

``CASEFLOW_TRUSTED_PROXIES`` lists the addresses or networks of the reverse proxies in front of
caseflow. ``X-Forwarded-For`` is read only when the peer is one of them, from the right, skipping
trusted hops; from anyone else the forwarding headers are dropped, so a client cannot choose the
address that the login throttle counts against.
"""

from __future__ import annotations

import functools
import ipaddress
import re
import uuid
from collections.abc import Callable, Iterable
from typing import Any

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
_FORWARDING = ("HTTP_FORWARDED", "HTTP_X_FORWARDED_FOR", "HTTP_X_FORWARDED_HOST", "HTTP_X_FORWARDED_PROTO",
               "HTTP_X_FORWARDED_PORT", "HTTP_X_FORWARDED_BY", "HTTP_X_REAL_IP")
#: a request id a trusted proxy may hand on (nginx's $request_id is 32 hex digits; UUIDs fit too)
REQUEST_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]{15,63}$")
VIA_TRUSTED_PROXY = "caseflow.via_trusted_proxy"

#: every HTML page: same-origin script, worker and manifest only, no inline script (the web app
#: at /app/ ships a script bundle, a service worker and a manifest from its own origin)
HTML_CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; "
            "connect-src 'self'; worker-src 'self'; manifest-src 'self'; base-uri 'none'; form-action 'self'; "
            "frame-ancestors 'none'")
#: the API docs page: ReDoc injects its styles and runs its search index in a blob: worker
DOCS_CSP = ("default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
            "font-src 'self' data:; connect-src 'self'; worker-src 'self' blob:; base-uri 'none'; "
            "form-action 'none'; frame-ancestors 'none'")
#: the web app at /app/: the same policy, no eval; its form validator (@cfworker/json-schema)
#: interprets schemas instead of compiling them (ADR 0018)
APP_CSP = HTML_CSP
HSTS = "max-age=31536000"


def parse_networks(text: str) -> tuple[IPNetwork, ...]:
    """``"10.0.0.1, 192.168.0.0/24"`` -> networks; anything unreadable stops the start."""
    out = []
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        try:
            out.append(ipaddress.ip_network(part, strict=False))
        except ValueError as exc:
            raise SystemExit(f"CASEFLOW_TRUSTED_PROXIES: {part!r} is not an IP address or network") from exc
    return tuple(out)


def _ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        ip = ipaddress.ip_address(text.strip().strip("[]"))
    except ValueError:
        return None
    return ip.ipv4_mapped or ip if isinstance(ip, ipaddress.IPv6Address) else ip


def _trusted(ip: Any, networks: Iterable[IPNetwork]) -> bool:
    return ip is not None and any(ip.version == n.version and ip in n for n in networks)


def client_from(peer: str, forwarded_for: str | None, networks: tuple[IPNetwork, ...]) -> str | None:
    """The client's address when ``peer`` is a trusted proxy with an ``X-Forwarded-For``, else None."""
    if not forwarded_for or not _trusted(_ip(peer), networks):
        return None
    hops = [h for h in (p.strip() for p in forwarded_for.split(",")) if h]
    client = None
    for hop in reversed(hops):
        ip = _ip(hop)
        if ip is None:
            break  # a garbled hop: trust nothing left of it
        client = str(ip)
        if not _trusted(ip, networks):
            break
    return client


class TrustedProxies:
    """WSGI middleware: REMOTE_ADDR becomes the client behind trusted proxies; forwarding headers
    from anyone else are removed before the app sees them."""

    def __init__(self, app: Callable, networks: tuple[IPNetwork, ...]):
        self.app = app
        self.networks = networks
        # whether a peer address is a trusted proxy, parsed once per address (a keep-alive fleet
        # sends from few addresses; the bound keeps a scan of many addresses from growing it)
        self._peer_trusted = functools.lru_cache(maxsize=4096)(lambda peer: _trusted(_ip(peer), networks))

    def __call__(self, environ: dict, start_response: Callable):
        peer = environ.get("REMOTE_ADDR", "")
        if self.networks and self._peer_trusted(peer):
            environ[VIA_TRUSTED_PROXY] = True
            client = client_from(peer, environ.get("HTTP_X_FORWARDED_FOR"), self.networks)
            if client:
                environ["REMOTE_ADDR"] = client
        else:
            for key in _FORWARDING:
                environ.pop(key, None)
        return self.app(environ, start_response)


def request_id_for(environ: dict) -> str:
    """A trusted proxy's well-formed ``X-Request-Id``, or a new id: a caller never picks what the logs say."""
    offered = environ.get("HTTP_X_REQUEST_ID") if environ.get(VIA_TRUSTED_PROXY) else None
    if offered and REQUEST_ID.match(offered):
        return offered
    return uuid.uuid4().hex


_ALWAYS = (("X-Content-Type-Options", "nosniff"), ("Referrer-Policy", "no-referrer"), ("X-Frame-Options", "DENY"))


def security_headers(headers: Any, *, mimetype: str, https: bool, docs_page: bool, app_page: bool = False,
                     cache_control: str | None = None) -> None:
    """Add each header the response does not set itself (as ``setdefault``), in one pass over its
    headers; ``cache_control``: a ``Cache-Control`` to add the same way."""
    wanted = list(_ALWAYS)
    if cache_control is not None:
        wanted.insert(0, ("Cache-Control", cache_control))
    if https:
        wanted.append(("Strict-Transport-Security", HSTS))
    if mimetype == "text/html":
        wanted.append(("Content-Security-Policy", DOCS_CSP if docs_page else APP_CSP if app_page else HTML_CSP))
    present = {key.lower() for key in headers.keys()}  # noqa: SIM118 - Headers, not a dict
    headers.extend([(key, value) for key, value in wanted if key.lower() not in present])
