"""Where webhooks may go: address rules checked when an endpoint is saved and again before
every attempt (a host name may resolve somewhere else tomorrow), against SSRF.

A webhook URL is typed by a vendor admin, but the request leaves from inside our network, so
it must not reach what only we can reach: the cloud metadata service (169.254.169.254),
link-local addresses, or the private networks behind the firewall. The attempt connects to
the very address that was checked (``Destination.addresses``), so a DNS answer that changes
between the check and the connection (DNS rebinding) cannot slip through.

Settings (``TCMA_*`` environment variables or ``create_app`` overrides):

- ``WEBHOOKS_ALLOW_PRIVATE``: also allow loopback and private networks (10/8, 172.16/12,
  192.168/16, 100.64/10, fc00::/7, 127/8, ::1): development, tests, or a CRM inside the same
  network. Link-local and metadata addresses stay refused.
- ``WEBHOOKS_ALLOW_HTTP``: allow plain ``http://`` to any host; without it only ``https://``
  is accepted, except to loopback hosts (which also need ``WEBHOOKS_ALLOW_PRIVATE``).

Both default to on when ``BASE_URL`` is plain http on a loopback host (a development checkout,
``make run``, the tests) and to off otherwise, so production is strict unless told.
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

from flask import current_app

from tcma.errors import DomainError

MAX_URL_LENGTH = 2000
LOOPBACK_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost"}
#: Cloud metadata services outside the link-local range (Alibaba), and AWS's IPv6 one.
METADATA = {ipaddress.ip_address("100.100.100.200"), ipaddress.ip_address("fd00:ec2::254")}

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class Refused(DomainError):
    """A webhook address we will not send to; the message says why and what to do."""

    status = 422
    title = "Address refused"


@dataclass(frozen=True)
class Destination:
    scheme: str
    host: str  # as written in the URL (sent as Host and TLS server name)
    port: int
    target: str  # path and query, what goes on the request line
    addresses: tuple[str, ...]  # the checked addresses to connect to, in resolver order


def _development() -> bool:
    base = urlsplit(str(current_app.config.get("BASE_URL") or ""))
    return base.scheme == "http" and _is_loopback_name(base.hostname or "")


def _flag(name: str) -> bool:
    value = current_app.config.get(name)
    return _development() if value is None else bool(value)


def allow_private() -> bool:
    return _flag("WEBHOOKS_ALLOW_PRIVATE")


def allow_http() -> bool:
    return _flag("WEBHOOKS_ALLOW_HTTP")


def _is_loopback_name(host: str) -> bool:
    host = host.lower().rstrip(".")
    if host in LOOPBACK_NAMES or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_url(url: str) -> str:
    """The URL, trimmed, if an endpoint may be registered with it (its host resolved and
    every address allowed); ``Refused`` naming the problem otherwise."""
    url = (url or "").strip()
    parts = _parse(url)
    resolve(parts.hostname or "", parts.port or (443 if parts.scheme == "https" else 80))
    return url


def _parse(url: str):
    if not url:
        raise Refused("Enter the address that should receive the events.", field="url")
    if len(url) > MAX_URL_LENGTH:
        raise Refused(f"Use an address of at most {MAX_URL_LENGTH} characters.", field="url")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018  (raises on a port that is not a number in range)
    except ValueError:
        raise Refused("This is not a valid web address.", field="url") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise Refused("Use a full https:// address, e.g. https://crm.example.com/hooks/tcma.",
                      field="url")
    if parts.username is not None or parts.password is not None:
        raise Refused("Leave the user name and password out of the address; receivers "
                      "authenticate our requests by their Tcma-Signature header.", field="url")
    if parts.fragment:
        raise Refused("Remove the #fragment: it is never sent to the server.", field="url")
    if any(ch.isspace() for ch in url):
        raise Refused("Remove the spaces from the address.", field="url")
    if parts.scheme == "http" and not (allow_http() or _is_loopback_name(parts.hostname)):
        raise Refused("Use https://: events carry personal data and must be encrypted on "
                      "the way.", field="url")
    return parts


def resolve(host: str, port: int) -> tuple[str, ...]:
    """Every address ``host`` resolves to, each one allowed; ``Refused`` otherwise."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        raise Refused(f"The host name {host} does not resolve; check the address.",
                      field="url") from None
    addresses = tuple(dict.fromkeys(info[4][0] for info in infos))
    for address in addresses:
        problem = _problem(ipaddress.ip_address(address.split("%", 1)[0]))
        if problem:
            raise Refused(f"{host} resolves to {address}, {problem}.", field="url")
    return addresses


def _problem(ip: IPAddress) -> str | None:
    """Why a request must not go to ``ip``, or None when it may."""
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if ip.is_link_local or ip in METADATA:
        return "a link-local or cloud metadata address, which webhooks never reach"
    if ip.is_multicast or ip.is_unspecified or (ip.is_reserved and not ip.is_loopback):
        return "not an address a web server can have"
    if not ip.is_global and not allow_private():
        return ("a private or loopback address; webhooks go to the public internet "
                "(an operator can allow private networks with WEBHOOKS_ALLOW_PRIVATE)")
    return None


def vet(url: str) -> Destination:
    """Parse and resolve ``url`` at delivery time, with the rules in force now."""
    parts = _parse(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return Destination(parts.scheme, parts.hostname or "", port, target,
                       resolve(parts.hostname or "", port))
