"""Where a webhook may go: no SSRF through a webhook URL.

In production (`CHAT_WEBHOOK_ALLOW_INSECURE` off) a URL must be https:// and
every address its host name resolves to must be a public (global unicast)
one: no loopback, link-local, private, shared, multicast, reserved or
unspecified address, IPv4-mapped IPv6 included. The check runs when the URL
is saved and again before every attempt, and the request then connects to
the very address that was checked (delivery.py), so a name that resolves to
something else a second later (DNS rebinding) cannot slip through.
"""

import ipaddress
import socket
from urllib.parse import urlsplit

from django.conf import settings


class AddressRefused(Exception):
    """The URL or its resolved address is not allowed."""


def allow_insecure() -> bool:
    return settings.CHAT_WEBHOOK_ALLOW_INSECURE


def is_public(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_global and not (
        address.is_multicast or address.is_reserved or address.is_unspecified or address.is_link_local
    )


def split_url(url: str) -> tuple[str, str, int]:
    """(scheme, host, port) of a URL we may send to; AddressRefused if its form is not allowed."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    insecure = allow_insecure()
    if scheme != "https" and not (insecure and scheme == "http"):
        raise AddressRefused(
            "Only https:// URLs are allowed (http:// only with CHAT_WEBHOOK_ALLOW_INSECURE=1)."
        )
    if parts.username is not None or parts.password is not None:
        raise AddressRefused("The URL may not carry a user name or password.")
    host = parts.hostname
    if not host:
        raise AddressRefused("The URL has no host.")
    try:
        port = parts.port or (443 if scheme == "https" else 80)
    except ValueError:
        raise AddressRefused("The URL's port is not valid.") from None
    return scheme, host, port


def resolve(host: str, port: int) -> list[str]:
    """Every address `host` resolves to, checked: AddressRefused if it does
    not resolve or (unless CHAT_WEBHOOK_ALLOW_INSECURE) if any of them is
    not public."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as error:
        raise AddressRefused(f"The host {host!r} does not resolve ({error}).") from None
    found = list(dict.fromkeys(info[4][0] for info in infos))
    if not found:
        raise AddressRefused(f"The host {host!r} does not resolve.")
    if not allow_insecure():
        for text in found:
            address = ipaddress.ip_address(text.split("%", 1)[0])
            if not is_public(address):
                raise AddressRefused(
                    f"The host {host!r} resolves to {address}, which is not a public address "
                    "(allowed only with CHAT_WEBHOOK_ALLOW_INSECURE=1)."
                )
    return found


def check_url(url: str) -> list[str]:
    """The checked addresses of a URL (saving an endpoint, and before each attempt)."""
    _, host, port = split_url(url)
    return resolve(host, port)
