"""Which endpoints a webhook may call: server-side request forgery protection.

A subscription's URL could point a server inside the deployment's network (a cloud metadata service at
169.254.169.254, an admin port on 127.0.0.1, a database on 10.0.0.5) at our signed POSTs. So the host is resolved
and every address it resolves to must be a public one; the request then goes to the address that was checked (the
Host header and TLS server name stay the URL's), so a DNS answer that changes between check and connect (DNS
rebinding) cannot slip past. Redirects are never followed, so a public endpoint cannot bounce us inward either.
Settings.webhooks_allow_private lifts the rule, for receivers on the same host or network.
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class AddressRefused(ValueError):
    """The URL cannot be called: it resolves to a non-public address, or not at all."""


@dataclass(frozen=True)
class Target:
    """Where a request goes: the checked address, and the host name the URL named."""

    url: str  # the URL with its host replaced by the checked address
    host_header: str
    server_name: str  # for TLS: the certificate is checked against the URL's host, not the address


def url_problem(url: str) -> str | None:
    """Why `url` is not an absolute http(s) URL a webhook can be sent to, or None."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        return f"is not a valid URL ({exc})"
    if parts.scheme not in ("http", "https"):
        return "must start with http:// or https://"
    if not parts.hostname:
        return "has no host"
    if parts.username or parts.password:
        return "must not carry a user name or password (the signature authenticates the sender)"
    if port == 0:
        return "has port 0"
    return None


def is_public(address: IPAddress) -> bool:
    """Globally routable unicast: not private, loopback, link-local, multicast, reserved or unspecified."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_global and not address.is_multicast


def resolve(url: str, *, allow_private: bool) -> Target:
    """The address to send to, after checking every address the URL's host resolves to; AddressRefused if any is
    not public (unless `allow_private`) or the host does not resolve."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise AddressRefused(f"the host {host!r} does not resolve ({exc})") from None
    addresses = list(dict.fromkeys(ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos))
    if not addresses:
        raise AddressRefused(f"the host {host!r} does not resolve")
    blocked = [a for a in addresses if not is_public(a)]
    if blocked and not allow_private:
        raise AddressRefused(
            f"the host {host!r} resolves to the non-public address {blocked[0]} (private, loopback, link-local or "
            "reserved); webhooks to such addresses are refused unless CEM_WEBHOOKS_ALLOW_PRIVATE is set"
        )
    address = addresses[0]
    shown = f"[{address}]" if address.version == 6 else str(address)
    netloc = f"{shown}:{parts.port}" if parts.port else shown
    host_header = parts.netloc.rsplit("@", 1)[-1]
    return Target(url=parts._replace(netloc=netloc).geturl(), host_header=host_header, server_name=host)
