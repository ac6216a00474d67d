"""Who may report a call over FastAGI (pure). FastAGI itself authenticates nobody, and a forged
hangup report makes the daemon text whom the forger chooses: so peers outside the allowed networks
are refused, and with a shared secret set, every request must carry it in the ``agi://`` path
(``agi://HOST:PORT/pbx-sms-hangup/SECRET``, which Asterisk relays as ``agi_network_script``)."""

from __future__ import annotations

import hmac
import ipaddress
from collections.abc import Sequence

IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


def peer_address(peername: object) -> IpAddress | None:
    """The peer's IP from a socket's peername ((host, port) or (host, port, flow, scope)); None if not IP."""
    if not isinstance(peername, tuple) or not peername or not isinstance(peername[0], str):
        return None
    try:
        address = ipaddress.ip_address(peername[0].split("%", 1)[0])
    except ValueError:
        return None
    # A dual-stack socket shows IPv4 peers as ::ffff:a.b.c.d; the allowed networks name them as IPv4.
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def peer_allowed(address: IpAddress | None, allow: Sequence[IpNetwork]) -> bool:
    """No networks listed: loopback peers only. Otherwise only peers in a listed network."""
    if address is None:
        return False
    if not allow:
        return address.is_loopback
    return any(address.version == network.version and address in network for network in allow)


def split_script_path(script: str) -> tuple[str, str]:
    """``pbx-sms-hangup/SECRET`` → (``pbx-sms-hangup``, ``SECRET``); no secret → (name, "")."""
    name, _, secret = script.partition("/")
    return name, secret


def secret_matches(given: str, expected: str) -> bool:
    """Constant time in the secret's content, so answers' timing tells nothing about it."""
    return hmac.compare_digest(given.encode(), expected.encode())
