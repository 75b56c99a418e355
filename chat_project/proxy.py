"""The client's address behind the TLS proxy, for a WSGI server.

uvicorn sets the client address from X-Forwarded-For itself, but only on
connections from the proxies in FORWARDED_ALLOW_IPS (scripts/serve.sh).
gunicorn takes the scheme from a trusted proxy but leaves REMOTE_ADDR the
proxy's own address, so every client would share the per-address rate limits
(token, registration). `TrustedProxyMiddleware` does what uvicorn does: on a
connection from a trusted proxy, REMOTE_ADDR becomes the nearest address in
X-Forwarded-For that is not itself a trusted proxy; from anywhere else the
header is ignored, so no client can pick the address it is counted by.
"""

import ipaddress
import os
from collections.abc import Iterable


def _networks(spec: str) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    """Addresses and networks, comma-separated; "*" trusts every peer, as for uvicorn and gunicorn."""
    items = [item.strip() for item in spec.split(",") if item.strip()]
    if "*" in items:
        return [ipaddress.ip_network("0.0.0.0/0"), ipaddress.ip_network("::/0")]
    return [ipaddress.ip_network(item, strict=False) for item in items]


def _trusted(address: str, networks) -> bool:
    try:
        ip = ipaddress.ip_address(address.strip())
    except ValueError:
        return False
    return any(ip in network for network in networks)


class TrustedProxyMiddleware:
    """WSGI middleware: REMOTE_ADDR from X-Forwarded-For of trusted proxies only."""

    def __init__(self, application, trusted: str | None = None):
        self.application = application
        self.networks = _networks(os.environ.get("FORWARDED_ALLOW_IPS", "") if trusted is None else trusted)

    def __call__(self, environ: dict, start_response) -> Iterable[bytes]:
        if self.networks and _trusted(environ.get("REMOTE_ADDR", ""), self.networks):
            forwarded = [hop.strip() for hop in environ.get("HTTP_X_FORWARDED_FOR", "").split(",") if hop.strip()]
            for hop in reversed(forwarded):
                if not _trusted(hop, self.networks):
                    environ["REMOTE_ADDR"] = hop
                    break
            else:
                if forwarded:
                    environ["REMOTE_ADDR"] = forwarded[0]
        return self.application(environ, start_response)
