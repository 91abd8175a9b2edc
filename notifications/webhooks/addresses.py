"""Which receivers may be called (server-side request forgery): a webhook's URL is an
address our servers connect to on a customer's say-so, so it must not reach what only
our own network can (loopback, private and link-local ranges such as a cloud's metadata
service at 169.254.169.254, multicast, reserved and unspecified addresses).

Checked when an endpoint is subscribed (a sentence for the person) and again at every
send, against what the name resolves to then (DNS can change after the subscription);
the sender connects to one of the addresses checked, not to a second resolution, so the
name cannot be re-pointed between the check and the connection. Every address a name
resolves to must be allowed, not just one.

`WEBHOOKS_ALLOW_PRIVATE_NETWORKS=true` lifts the address check (a receiver on the same
private network, and the tests' loopback receiver); the scheme is always checked.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings

from tickets.errors import InvalidInput

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[..., list[tuple[Any, ...]]]


@dataclass(frozen=True)
class Target:
    """Where a webhook's request goes: the URL's parts and the addresses checked."""

    scheme: str
    host: str
    port: int
    addresses: tuple[IPAddress, ...]


def refused(address: IPAddress) -> str | None:
    """Why `address` may not be called, or None."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    for test, what in (
        (address.is_loopback, "a loopback address"),
        (address.is_link_local, "a link-local address"),
        (address.is_multicast, "a multicast address"),
        (address.is_unspecified, "an unspecified address"),
        (address.is_reserved, "a reserved address"),
        (address.is_private, "a private address"),
        (not address.is_global, "not a public address"),
    ):
        if test:
            return what
    return None


def _invalid(message: str) -> InvalidInput:
    return InvalidInput(message, fields={"url": [message]})


def check_url(
    url: str,
    *,
    allow_private: bool | None = None,
    resolve: Resolver = socket.getaddrinfo,
) -> Target:
    """The target of `url` if a webhook may call it; InvalidInput saying why not."""
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http"):
        raise _invalid("A webhook URL starts with https:// (or http://).")
    if parts.username or parts.password:
        raise _invalid("A webhook URL carries no user name or password; use the secret.")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise _invalid("The webhook URL's port is not a number from 1 to 65535.") from None
    host = parts.hostname
    if not host:
        raise _invalid("A webhook URL names a host.")
    try:
        infos = resolve(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        raise _invalid(f"The webhook URL's host {host} does not resolve.") from None
    addresses = tuple(dict.fromkeys(ipaddress.ip_address(i[4][0].split("%")[0]) for i in infos))
    if not addresses:
        raise _invalid(f"The webhook URL's host {host} does not resolve.")
    if allow_private is None:
        allow_private = settings.WEBHOOKS_ALLOW_PRIVATE_NETWORKS
    if not allow_private:
        for address in addresses:
            why = refused(address)
            if why:
                raise _invalid(
                    f"The webhook URL's host {host} is {address}, {why}: webhooks only "
                    "call public addresses."
                )
    return Target(scheme=parts.scheme, host=host, port=port, addresses=addresses)
