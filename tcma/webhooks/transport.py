"""One webhook POST over the standard library's HTTP client, on our own socket.

``requests`` would resolve the host again after our SSRF check and follow its own rules; here
the connection goes to an address ``destinations.vet`` just allowed, TLS is verified against
the host name in the URL, redirects are never followed, the answer's body is read only up to
``MAX_BODY``, and a watchdog closes the socket when the total time is up (a server dripping
one byte at a time cannot hold a worker past it).
"""

from __future__ import annotations

import functools
import http.client
import socket
import ssl
import threading
import time
from dataclasses import dataclass

from tcma.webhooks.destinations import Destination

#: How much of an answer's body is read and kept for the delivery log.
MAX_BODY = 2048


@dataclass(frozen=True)
class Outcome:
    """What one attempt got: an HTTP status (and body excerpt), or an error, and its time."""

    status_code: int | None
    error: str | None
    body: str
    duration_ms: int

    @property
    def succeeded(self) -> bool:
        return self.error is None and self.status_code is not None and \
            200 <= self.status_code < 300


class _Watchdog:
    """Shuts the connection's socket at the deadline, which ends any blocked read."""

    def __init__(self, seconds: float):
        self.sock: socket.socket | None = None
        self.fired = False
        self._timer = threading.Timer(max(seconds, 0.0), self._fire)
        self._timer.daemon = True

    def _fire(self) -> None:
        self.fired = True
        try:
            if self.sock is not None:
                self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass  # closed already

    def __enter__(self) -> _Watchdog:
        self._timer.start()
        return self

    def __exit__(self, *exc) -> None:
        self._timer.cancel()


def post(destination: Destination, body: bytes, headers: dict[str, str], *,
         connect_timeout: float, total_timeout: float) -> Outcome:
    """POST ``body`` to ``destination``; never raises for network trouble, says it instead."""
    started = time.monotonic()
    deadline = started + total_timeout

    def outcome(status: int | None, error: str | None, text: str = "") -> Outcome:
        return Outcome(status, error, text, int((time.monotonic() - started) * 1000))

    sock: socket.socket | None = None
    with _Watchdog(total_timeout) as watchdog:
        try:
            sock = _connect(destination, min(connect_timeout, total_timeout))
            watchdog.sock = sock
            sock.settimeout(max(deadline - time.monotonic(), 0.001))
            if destination.scheme == "https":
                sock = _tls().wrap_socket(
                    sock, server_hostname=destination.host)
                watchdog.sock = sock
            conn_cls = (http.client.HTTPSConnection if destination.scheme == "https"
                        else http.client.HTTPConnection)
            conn = conn_cls(destination.host, destination.port)
            conn.sock = sock  # connected and checked already: http.client does not connect
            conn.request("POST", destination.target, body=body, headers=headers)
            response = conn.getresponse()
            text = response.read(MAX_BODY).decode("utf-8", errors="replace")
            if 300 <= response.status < 400:
                where = response.getheader("Location") or "another address"
                return outcome(response.status, f"Redirects are not followed (to {where}); "
                                                f"register the final address.", text)
            return outcome(response.status, None, text)
        except TimeoutError:
            if sock is None:
                return outcome(None, f"Could not connect within {connect_timeout:g} s.")
            return outcome(None, f"No complete answer within {total_timeout:g} s.")
        except ssl.SSLError as exc:
            return outcome(None, f"TLS failed: {exc.reason or exc}.")
        except ConnectionRefusedError:
            return outcome(None, "Connection refused: nothing listens at that address.")
        except (OSError, http.client.HTTPException) as exc:
            if watchdog.fired:
                return outcome(None, f"No complete answer within {total_timeout:g} s.")
            return outcome(None, _describe(exc))
        finally:
            if sock is not None:
                sock.close()


@functools.cache
def _tls() -> ssl.SSLContext:
    """Certificates verified against the system's CAs and the URL's host name."""
    return ssl.create_default_context()


def _connect(destination: Destination, timeout: float) -> socket.socket:
    """A TCP connection to the first of the checked addresses that answers."""
    last: OSError | None = None
    for address in destination.addresses:
        family = socket.AF_INET6 if ":" in address else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.settimeout(timeout)
        try:
            sock.connect((address, destination.port))
            return sock
        except OSError as exc:
            sock.close()
            last = exc
    assert last is not None  # vet() never returns an empty address list
    raise last


def _describe(exc: BaseException) -> str:
    if isinstance(exc, http.client.RemoteDisconnected):
        return "The server closed the connection without answering."
    if isinstance(exc, http.client.HTTPException):
        return f"The answer was not valid HTTP ({type(exc).__name__})."
    return f"Network error: {exc.strerror or exc}." if isinstance(exc, OSError) else str(exc)
