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
from collections.abc import Callable
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any
from urllib.parse import urlsplit

from ..errors import AuthenticationError, Cause, ConnectionFailedError, NexusDataError, ProxyError
from ..protocol import SERVICES
from ..protocol.urls import redact
from ..proxies import Proxy
from .sockets import ProxyFailed

PERMANENT_STATUSES = frozenset({400, 404, 405, 410, 426})
"""Handshake answers that mean no websocket endpoint of this kind is at this URL."""
_NOT_FOUND = frozenset({socket.EAI_NONAME, getattr(socket, "EAI_NODATA", socket.EAI_NONAME)})


@dataclass(frozen=True)
class Failure:
    """One failed attempt: the reason as a short line, its cause and the advice for it, and the
    error to end the run with when retrying cannot help (``None``: try again)."""

    reason: str
    cause: Cause
    advice: str
    permanent: NexusDataError | None = None


def _retry(reason: str, cause: Cause, **context: Any) -> Failure:
    """A failure another attempt may not meet."""
    return Failure(reason, cause, cause.advise(**context))


def _stop(reason: str, cause: Cause, error: Callable[[str], NexusDataError], **context: Any) -> Failure:
    """A failure retrying cannot fix, ending the run with ``error(advice)``."""
    advice = cause.advise(**context)
    return Failure(reason, cause, advice, error(advice).because(cause, advice))


def status_text(status: int) -> str:
    """``404 Not Found``: an HTTP status with its standard phrase."""
    try:
        return f"{status} {HTTPStatus(status).phrase}"
    except ValueError:
        return str(status)


def diagnose(exc: BaseException, service: str, url: str, connect_timeout: float, proxy: Proxy | None = None) -> Failure:
    """The :class:`Failure` an exception raised while connecting to ``url`` (already redacted)
    of ``service`` (through ``proxy``, if one) means."""
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
            return _stop(reason, Cause.HOST_NOT_FOUND, lambda advice: ConnectionFailedError(f"{url}: {reason}; {advice}"))
        return _retry(f"host name {host!r} could not be looked up now (DNS: {exc.strerror})", Cause.HOST_NOT_LOOKED_UP)
    if isinstance(exc, ssl.SSLCertVerificationError):
        reason = f"the server's TLS certificate was refused ({exc.verify_message})"
        inspected = " (a proxy that inspects TLS shows a certificate of its own CA)" if proxy else ""
        return _stop(
            reason, Cause.CERTIFICATE, lambda advice: ConnectionFailedError(f"{url}: {reason}; {advice}"), inspected=inspected
        )
    if isinstance(exc, ssl.SSLError):
        reason = f"TLS handshake failed ({exc.reason or exc.strerror or type(exc).__name__})"
        return _stop(reason, Cause.TLS, lambda advice: ConnectionFailedError(f"{url}: {reason}; {advice}"))
    if isinstance(exc, ConnectionRefusedError):
        return _retry(f"connection refused: nothing listens on {where} (is the server up, the port right?)", Cause.REFUSED)
    if isinstance(exc, (TimeoutError, socket.timeout, websocket.WebSocketTimeoutException)):
        reason = f"timed out after {connect_timeout:g}s connecting to {where} (a firewall, a proxy, or the wrong host?)"
        return _retry(reason, Cause.TIMED_OUT)
    if isinstance(exc, OSError) and exc.strerror:
        return _retry(f"{exc.strerror} ({where})", Cause.DROPPED)
    return _retry(describe(exc), Cause.OTHER, service=service)


def _proxy_failure(failed: ProxyFailed, url: str, connect_timeout: float) -> Failure:
    """What a proxy that did not open the tunnel means: python-socks' exception (or the socket's,
    when the connection broke during the proxy's handshake) in ``failed.cause``."""
    from python_socks import ProxyConnectionError, ProxyTimeoutError

    proxy, cause = failed.proxy, failed.cause
    at = f"the {proxy.protocol} proxy at {proxy.address}"
    context = {"source": proxy.source, "address": proxy.address, "scheme": proxy.scheme}
    if isinstance(cause, ProxyTimeoutError):
        reason = f"timed out after {connect_timeout:g}s waiting for {at} (is the host and port in {proxy.source} right?)"
        return _retry(reason, Cause.PROXY_TIMED_OUT, **context)
    if isinstance(cause, ProxyConnectionError):
        reached = cause.__cause__ if isinstance(cause.__cause__, OSError) else cause
        if isinstance(reached, socket.gaierror) and reached.errno in _NOT_FOUND:
            reason = f"proxy host name {proxy.host!r} not found (DNS)"
            return _stop(
                reason,
                Cause.PROXY_HOST_NOT_FOUND,
                lambda advice: ProxyError(f"{url}: {reason}; {advice}", proxy.address),
                **context,
            )
        if isinstance(reached, socket.gaierror):
            reason = f"proxy host name {proxy.host!r} could not be looked up now (DNS: {reached.strerror})"
            return _retry(reason, Cause.PROXY_HOST_NOT_FOUND, **context)
        if isinstance(reached, ConnectionRefusedError) or reached.errno == errno.ECONNREFUSED:
            reason = (
                f"connection refused by the proxy: nothing listens on {proxy.address} (is the proxy up, the port in"
                f" {proxy.source} right?)"
            )
            return _retry(reason, Cause.PROXY_REFUSED, **context)
        if isinstance(reached, TimeoutError):
            reason = f"timed out after {connect_timeout:g}s connecting to {at} (a firewall, or the wrong host?)"
            return _retry(reason, Cause.PROXY_TIMED_OUT, **context)
        return _retry(f"could not connect to {at} ({reached.strerror or describe(reached)})", Cause.PROXY_REFUSED, **context)
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
    context = {"source": proxy.source, "address": proxy.address, "scheme": proxy.scheme}
    if status == 407:
        if proxy.username:
            reason, cause = f"{at} refused the credentials ({said})", Cause.PROXY_CREDENTIALS
        else:
            reason, cause = f"{at} asks for credentials ({said})", Cause.PROXY_WANTS_CREDENTIALS
    elif status == 403:
        reason, cause = f"{at} refused a tunnel to {target} ({said})", Cause.PROXY_FORBIDDEN
    elif (400 <= status < 500 and status not in RETRY_STATUSES) or status == 501:
        reason, cause = f"{at} does not open tunnels (CONNECT answered {said})", Cause.PROXY_NOT_FORWARD
    elif status >= 500:
        return _retry(f"{at} could not reach {target} ({said})", Cause.PROXY_UNREACHABLE, **context)
    else:
        return _retry(f"{at} answered the CONNECT to {target} with {said}", Cause.PROXY_PROTOCOL, **context)
    return _stop(reason, cause, lambda advice: ProxyError(f"{url}: {reason}; {advice}", proxy.address, status), **context)


def _closed(proxy: Proxy, said: str) -> Failure:
    """The proxy closed the connection before answering: worth another attempt, though a proxy
    of another protocol does the same."""
    reason = (
        f"the {proxy.protocol} proxy at {proxy.address} closed the connection during its handshake ({said}; is it"
        f" {_a(proxy)} proxy? check the scheme in {proxy.source})"
    )
    return _retry(reason, Cause.PROXY_PROTOCOL, source=proxy.source)


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
    context = {"source": proxy.source, "address": proxy.address, "scheme": proxy.scheme}
    if code is not None and code in SOCKS_TRANSIENT:
        return _retry(f"{at} could not reach {target} ({said})", Cause.PROXY_UNREACHABLE, **context)
    if code == 2:  # SOCKS5: not allowed by its rules
        reason, cause = f"{at} refused the connection to {target} ({said})", Cause.PROXY_FORBIDDEN
    elif code is not None:
        reason, cause = f"{at} cannot make the connection to {target} ({said})", Cause.PROXY_CANNOT
    elif "authentication failure" in said:
        reason, cause = f"{at} refused the username and password", Cause.PROXY_CREDENTIALS
    elif "no acceptable authentication" in said:
        reason = f"{at} accepts none of the offered ways to log in"
        cause = Cause.PROXY_CREDENTIALS if proxy.username else Cause.PROXY_WANTS_CREDENTIALS
    elif "closed unexpectedly" in said or "invalid proxy response" in said:
        return _closed(proxy, said)
    else:
        reason, cause = f"{proxy.address} did not answer as {_a(proxy)} proxy ({said})", Cause.PROXY_PROTOCOL
    return _stop(reason, cause, lambda advice: ProxyError(f"{url}: {reason}; {advice}", proxy.address, code), **context)


def _bad_status(status: int, service: str, url: str, path: str) -> Failure:
    reason = f"HTTP {status_text(status)} at the websocket handshake"
    described = SERVICES[service]
    if status in (401, 403):
        if described.logs_in:  # it logs in by message, never at the handshake
            owner = next((s for s in SERVICES.values() if s.path == path.rstrip("/") and s is not described), None)
            other = f" (it is the {owner.title} path)" if owner else ""
            return _stop(
                reason,
                Cause.OTHER_SERVICE,
                lambda advice: ConnectionFailedError(
                    f"{url}: {reason}: {described.title} logs in after connecting, so this URL{other} is not a"
                    f" {described.title} endpoint; {advice}"
                ),
                paths=described.advice_context["paths"],
                other=owner.name if owner else service,
            )
        return _stop(
            reason,
            Cause.CREDENTIALS,
            lambda advice: AuthenticationError(
                f"{service} refused the credentials at the handshake (HTTP {status}); {advice}", status, "handshake refused"
            ),
            **described.advice_context,
        )
    if status in PERMANENT_STATUSES:
        return _stop(
            reason,
            Cause.WRONG_PATH,
            lambda advice: ConnectionFailedError(
                f"{url}: {reason}: the server has no websocket endpoint at this path; {service} serves {described.path}"
                f" (the URL's path is {path or '/'!r}); {advice}"
            ),
            paths=described.advice_context["paths"],
        )
    return _retry(reason, Cause.HANDSHAKE_STATUS)


def describe(exc: BaseException) -> str:
    """An exception as a short line that cannot carry a URL with a token in it."""
    text = str(exc).splitlines()[0] if str(exc) else ""
    return f"{type(exc).__name__}: {redact(text)}"[:200]
