"""Why a connection attempt failed, in words a user can act on, and whether retrying can help.

websocket-client and the socket layer raise a dozen kinds of exception whose text ranges from
terse (``[Errno 111]``) to raw (a handshake error dumps the response headers). Each attempt's
failure becomes one short line for the gap log; the ones that retrying cannot fix (a wrong path,
a host name that does not resolve, refused credentials, a refused certificate) end the run at
once with an error that says what to check.
"""

from __future__ import annotations

import errno
import socket
from dataclasses import dataclass
from http import HTTPStatus
from urllib.parse import urlsplit

from ..errors import AuthenticationError, ConnectionFailedError, NexusDataError, ProxyError
from ..protocol.urls import CHAINEXT_PATH, NEXUS_PATH, redact
from ..proxies import Proxy
from .sockets import ProxyFailed

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

    if isinstance(exc, ProxyFailed):
        return _proxy_failure(exc, url, connect_timeout)
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


def _proxy_failure(failed: ProxyFailed, url: str, connect_timeout: float) -> Failure:
    """What a proxy that did not open the tunnel means: python-socks' exception (or the socket's,
    when the connection broke during the proxy's handshake) in ``failed.cause``."""
    from python_socks import ProxyConnectionError, ProxyTimeoutError

    proxy, cause = failed.proxy, failed.cause
    at = f"the {proxy.protocol} proxy at {proxy.address}"
    if isinstance(cause, ProxyTimeoutError):
        return Failure(f"timed out after {connect_timeout:g}s waiting for {at} (is the host and port in {proxy.source} right?)")
    if isinstance(cause, ProxyConnectionError):
        reached = cause.__cause__ if isinstance(cause.__cause__, OSError) else cause
        if isinstance(reached, socket.gaierror) and reached.errno in _NOT_FOUND:
            reason = f"proxy host name {proxy.host!r} not found (DNS)"
            return Failure(reason, ProxyError(f"{url}: {reason}; check the proxy's host in {proxy.source}", proxy.address))
        if isinstance(reached, socket.gaierror):
            return Failure(f"proxy host name {proxy.host!r} could not be looked up now (DNS: {reached.strerror})")
        if isinstance(reached, ConnectionRefusedError) or reached.errno == errno.ECONNREFUSED:
            return Failure(
                f"connection refused by the proxy: nothing listens on {proxy.address} (is the proxy up, the port in"
                f" {proxy.source} right?)"
            )
        if isinstance(reached, TimeoutError):
            return Failure(f"timed out after {connect_timeout:g}s connecting to {at} (a firewall, or the wrong host?)")
        return Failure(f"could not connect to {at} ({reached.strerror or describe(reached)})")
    if not hasattr(cause, "error_code"):  # the socket failed during the proxy's handshake
        return _closed(proxy, describe(cause))
    code = cause.error_code
    if proxy.protocol == "HTTP" and code is not None:
        return _http_refusal(failed, url, code)
    return _refusal(failed, url, code, str(cause))


RETRY_STATUSES = frozenset({408, 429})
"""An HTTP proxy's 4xx answers to a CONNECT that another attempt may not get (timed out, too many
requests); the other 4xx (but 403 and 407) say it is no forward proxy."""


def _http_refusal(failed: ProxyFailed, url: str, status: int) -> Failure:
    """An HTTP proxy's answer other than 200 to the CONNECT."""
    proxy, target = failed.proxy, f"{failed.host}:{failed.port}"
    at = f"the HTTP proxy at {proxy.address}"
    said = status_text(status)
    if status == 407:
        if proxy.username:
            reason, fix = f"{at} refused the credentials ({said})", f"check user:password in {proxy.source}"
        else:
            reason, fix = (
                f"{at} asks for credentials ({said})",
                f"give them in {proxy.source}: http://USER:PASSWORD@{proxy.address}",
            )
    elif status == 403:
        reason = f"{at} refused a tunnel to {target} ({said})"
        fix = "its rules do not allow this host or port: ask its administrator, or connect without it (NO_PROXY, proxy=False)"
    elif (400 <= status < 500 and status not in RETRY_STATUSES) or status == 501:
        reason = f"{at} does not open tunnels (CONNECT answered {said})"
        fix = f"a websocket needs a forward proxy that allows CONNECT: is {proxy.address} one (and not the server itself)?"
    elif status >= 500:
        return Failure(f"{at} could not reach {target} ({said})")
    else:
        return Failure(f"{at} answered the CONNECT to {target} with {said}")
    return Failure(reason, ProxyError(f"{url}: {reason}; {fix}", proxy.address, status))


def _closed(proxy: Proxy, said: str) -> Failure:
    """The proxy closed the connection before answering: worth another attempt, though a proxy
    of another protocol does the same."""
    return Failure(
        f"the {proxy.protocol} proxy at {proxy.address} closed the connection during its handshake ({said}; is it"
        f" {_a(proxy)} proxy? check the scheme in {proxy.source})"
    )


def _a(proxy: Proxy) -> str:
    """The proxy's protocol with its article: ``an HTTP``, ``a SOCKS5``."""
    return f"{'an' if proxy.protocol == 'HTTP' else 'a'} {proxy.protocol}"


SOCKS_TRANSIENT = frozenset({1, 3, 4, 5, 6, 0x5B})
"""SOCKS replies about the way to the server (general failure, network or host unreachable,
refused, TTL expired; SOCKS4: rejected or failed): worth another attempt."""


def _refusal(failed: ProxyFailed, url: str, code: int | None, text: str) -> Failure:
    """A SOCKS proxy's reply code, or a proxy's failure without one: refused credentials, a
    connection closed during its handshake, an answer in another protocol."""
    proxy, target = failed.proxy, f"{failed.host}:{failed.port}"
    at = f"the {proxy.protocol} proxy at {proxy.address}"
    said = text.rstrip(".").lower()
    if code is not None and code in SOCKS_TRANSIENT:
        return Failure(f"{at} could not reach {target} ({said})")
    if code == 2:  # SOCKS5: not allowed by its rules
        reason = f"{at} refused the connection to {target} ({said})"
        fix = "its rules do not allow this host or port: ask its administrator, or connect without it (NO_PROXY, proxy=False)"
    elif code is not None:
        reason = f"{at} cannot make the connection to {target} ({said})"
        fix = "try the other scheme (socks5:// looks the host name up here, socks5h:// at the proxy) or another proxy"
    elif "authentication failure" in said:
        reason, fix = f"{at} refused the username and password", f"check user:password in {proxy.source}"
    elif "no acceptable authentication" in said:
        reason = f"{at} accepts none of the offered ways to log in"
        fix = (
            f"check user:password in {proxy.source}"
            if proxy.username
            else f"it wants a username and password: give them in {proxy.source}: {proxy.scheme}://USER:PASSWORD@{proxy.address}"
        )
    elif "closed unexpectedly" in said or "invalid proxy response" in said:
        return _closed(proxy, said)
    else:
        reason = f"{proxy.address} did not answer as {_a(proxy)} proxy ({said})"
        fix = f"check the scheme (http://, socks5://, ...) and the port in {proxy.source}"
    return Failure(reason, ProxyError(f"{url}: {reason}; {fix}", proxy.address, code))


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
