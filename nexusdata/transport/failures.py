"""Why a connection attempt failed, in words a user can act on, and whether retrying can help.

websocket-client and the socket layer raise a dozen kinds of exception whose text ranges from
terse (``[Errno 111]``) to raw (a handshake error dumps the response headers). Each attempt's
failure becomes one short line for the gap log; the ones that retrying cannot fix (a wrong path,
a host name that does not resolve, refused credentials, a refused certificate) end the run at
once with an error that says what to check.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass
from http import HTTPStatus
from urllib.parse import urlsplit

from ..errors import AuthenticationError, ConnectionFailedError, NexusDataError
from ..protocol.urls import CHAINEXT_PATH, NEXUS_PATH, redact

PERMANENT_STATUSES = frozenset({400, 404, 405, 410, 426})
"""Handshake answers that mean no websocket endpoint of this kind is at this URL."""
_NOT_FOUND = frozenset({socket.EAI_NONAME, getattr(socket, "EAI_NODATA", socket.EAI_NONAME)})
_PATHS = {"nexus": NEXUS_PATH, "chainext": CHAINEXT_PATH}


@dataclass(frozen=True)
class Failure:
    """One failed attempt: the reason as a short line, and the error to end the run with when
    retrying cannot help (``None``: try again)."""

    reason: str
    permanent: NexusDataError | None = None


def status_text(status: int) -> str:
    """``404 Not Found``: an HTTP status with its standard phrase."""
    try:
        return f"{status} {HTTPStatus(status).phrase}"
    except ValueError:
        return str(status)


def diagnose(exc: BaseException, service: str, url: str, connect_timeout: float) -> Failure:
    """The :class:`Failure` an exception raised while connecting to ``url`` (already redacted)
    of ``service`` means."""
    import ssl  # loaded with the first connection, not with import nexusdata

    import websocket

    parts = urlsplit(url)
    host = parts.hostname or "?"
    where = f"{host}:{parts.port or (443 if parts.scheme == 'wss' else 80)}"
    if isinstance(exc, websocket.WebSocketBadStatusException):
        return _bad_status(exc.status_code, service, url, parts.path)
    if isinstance(exc, websocket.WebSocketAddressException) and exc.args and isinstance(exc.args[0], socket.gaierror):
        exc = exc.args[0]  # websocket-client wraps the failed name lookup
    if isinstance(exc, socket.gaierror):
        if exc.errno in _NOT_FOUND:
            reason = f"host name {host!r} not found (DNS)"
            return Failure(reason, ConnectionFailedError(f"{url}: {reason}; check the host name in the URL"))
        return Failure(f"host name {host!r} could not be looked up now (DNS: {exc.strerror})")
    if isinstance(exc, ssl.SSLCertVerificationError):
        reason = f"the server's TLS certificate was refused ({exc.verify_message})"
        return Failure(
            reason,
            ConnectionFailedError(f"{url}: {reason}; if you trust it, pass ca_file= the PEM bundle of the CA that signed it"),
        )
    if isinstance(exc, ssl.SSLError):
        reason = f"TLS handshake failed ({exc.reason or exc.strerror or type(exc).__name__})"
        return Failure(
            reason, ConnectionFailedError(f"{url}: {reason}; is the server really wss:// (TLS)? a plain server needs a ws:// URL")
        )
    if isinstance(exc, ConnectionRefusedError):
        return Failure(f"connection refused: nothing listens on {where} (is the server up, the port right?)")
    if isinstance(exc, (TimeoutError, socket.timeout, websocket.WebSocketTimeoutException)):
        return Failure(f"timed out after {connect_timeout:g}s connecting to {where} (a firewall, a proxy, or the wrong host?)")
    if isinstance(exc, OSError) and exc.strerror:
        return Failure(f"{exc.strerror} ({where})")
    return Failure(describe(exc))


def _bad_status(status: int, service: str, url: str, path: str) -> Failure:
    reason = f"HTTP {status_text(status)} at the websocket handshake"
    if status in (401, 403):
        if service == "chainext":  # ChaiNext logs in by message, never at the handshake
            other = " (it is the Nexus path)" if path.rstrip("/") == NEXUS_PATH else ""
            return Failure(
                reason,
                ConnectionFailedError(
                    f"{url}: {reason}: ChaiNext logs in after connecting, so this URL{other} is not a ChaiNext"
                    f" endpoint; ChaiNext serves {CHAINEXT_PATH}"
                ),
            )
        return Failure(
            reason,
            AuthenticationError(
                f"{service} refused the credentials at the handshake (HTTP {status}); check the token",
                status,
                "handshake refused",
            ),
        )
    if status in PERMANENT_STATUSES:
        return Failure(
            reason,
            ConnectionFailedError(
                f"{url}: {reason}: the server has no websocket endpoint at this path; {service} serves {_PATHS[service]}"
                f" (the URL's path is {path or '/'!r})"
            ),
        )
    return Failure(reason)


def describe(exc: BaseException) -> str:
    """An exception as a short line that cannot carry a URL with a token in it."""
    text = str(exc).splitlines()[0] if str(exc) else ""
    return f"{type(exc).__name__}: {redact(text)}"[:200]
