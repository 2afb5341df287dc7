"""The one exception hierarchy of nexusdata: every error the package raises itself derives from
:class:`NexusDataError`, so ``except nd.NexusDataError`` catches them all."""

from __future__ import annotations

import enum
from typing import Any, TypeVar


class Cause(enum.Enum):
    """Why a connection, a login or a subscription failed, and the one piece of advice for it.

    Every error of a failed run and every failed attempt carries one (``error.cause``,
    ``Failure.cause``); ``nd.check``'s hints and docs/errors.md are keyed on them. :meth:`advise`
    fills the advice's blanks (``{source}``: where the proxy came from, ...) for one case."""

    HOST_NOT_FOUND = (
        "the server's host name is not found (DNS)",
        "the host name does not resolve: check its spelling, and whether it needs a VPN or a company DNS",
    )
    HOST_NOT_LOOKED_UP = (
        "the server's host name could not be looked up now",
        "the host name does not resolve now: check the network and its DNS, and whether the host needs a VPN or a company DNS",
    )
    REFUSED = (
        "nothing listens at the server's address",
        "nothing listens there: the server is down, or the port in the URL is wrong",
    )
    TIMED_OUT = (
        "no answer within the connect timeout",
        "no answer within the connect timeout: a firewall or proxy in the way, or the wrong host or port",
    )
    CERTIFICATE = (
        "the server's TLS certificate is not trusted",
        "the server's TLS certificate is not trusted here: if you trust it, pass --ca-file (ca_file=) the PEM bundle of the CA that signed it{inspected}",
    )
    TLS = ("the TLS handshake failed", "is the server really wss:// (TLS)? a plain server needs a ws:// URL")
    WRONG_PATH = ("no websocket endpoint at the URL's path", "wrong path: {paths}; check the URL's path")
    OTHER_SERVICE = (
        "the URL is another service's",
        "this URL serves the other feed: {paths}; fix the URL, or check it with `nexusdata check {other}`",
    )
    CREDENTIALS = (
        "the server refused the credentials",
        "the server refused the {credentials}: check {them} ({flags}) and that {they} issued for this server",
    )
    SIGNATURE = ("the server refused the login's signature", "the login signature was refused: {detail}")
    SUBSCRIPTION = ("the server refused a subscription", "the server refused the subscription ({said}): {detail}")
    SILENT = (
        "nothing arrived after subscribing",
        "nothing arrived after subscribing: check the {what} and the permissions of the credentials; a quiet market may push nothing for a while (give it more seconds)",
    )
    HANDSHAKE_STATUS = (
        "the server answered the upgrade with another HTTP status",
        "the server answered the websocket upgrade with an HTTP error: check the URL, and try again later",
    )
    DROPPED = (
        "the connection broke",
        "the connection broke before the run could finish: try again, and look at the gap log (nd.gap_log) for how often it happens",
    )
    PROXY_HOST_NOT_FOUND = (
        "the proxy's host name is not found (DNS)",
        "the proxy's host name does not resolve: check it in {source}, and whether it needs a VPN or a company DNS",
    )
    PROXY_REFUSED = (
        "nothing listens at the proxy's address",
        "nothing listens at the proxy's address: is the proxy running, and its host and port right in {source}?",
    )
    PROXY_TIMED_OUT = (
        "the proxy did not answer in time",
        "no answer from the proxy within the connect timeout: a firewall, or the wrong host or port in {source}",
    )
    PROXY_CREDENTIALS = ("the proxy refused its username and password", "check user:password in {source}")
    PROXY_WANTS_CREDENTIALS = (
        "the proxy asks for a username and password",
        "the proxy wants a username and password: give them in {source}: {scheme}://USER:PASSWORD@{address}",
    )
    PROXY_FORBIDDEN = (
        "the proxy's rules refuse the server",
        "its rules do not allow this host or port: ask its administrator, or connect without it (NO_PROXY, proxy=False)",
    )
    PROXY_NOT_FORWARD = (
        "the proxy opens no tunnels",
        "a websocket needs a forward proxy that allows CONNECT: is {address} one (and not the server itself)?",
    )
    PROXY_CANNOT = (
        "the SOCKS proxy cannot make the connection",
        "try the other scheme (socks5:// looks the host name up here, socks5h:// at the proxy) or another proxy",
    )
    PROXY_PROTOCOL = (
        "the proxy does not speak the URL's scheme",
        "check the scheme (http://, socks5://, ...) and the port in {source}",
    )
    PROXY_UNREACHABLE = (
        "the proxy could not reach the server",
        "the proxy could not reach the server: is the server up, and the URL's host and port right as seen from the proxy? (it may need NO_PROXY or proxy=False)",
    )
    OTHER = ("something else", "run `nexusdata check {service} --trace FILE` and report the trace")

    @property
    def summary(self) -> str:
        """What happened, in a few words."""
        return str(self.value[0])

    @property
    def advice(self) -> str:
        """What to do about it, with its blanks (``{source}``, ...) unfilled."""
        return str(self.value[1])

    def advise(self, **context: Any) -> str:
        """The advice for one case: its blanks filled from ``context`` (missing ones left empty)."""
        return self.advice.format_map(_Blank(context))


class _Blank(dict[str, Any]):
    """Format values where a missing one is empty (``{inspected}`` only applies through a proxy)."""

    def __missing__(self, key: str) -> str:
        return ""


class NexusDataError(Exception):
    """Base of every error nexusdata raises itself. A failed run's error says why (``cause``,
    ``None`` where none applies) and what to do (``advice``, also the message's last part)."""

    cause: Cause | None = None
    advice: str = ""

    def because(self: _E, cause: Cause, advice: str) -> _E:
        """This error with its cause and advice set (returned, to raise or keep)."""
        self.cause, self.advice = cause, advice
        return self


_E = TypeVar("_E", bound=NexusDataError)


class ArgumentError(NexusDataError, ValueError):
    """A bad argument, raised before any connection is opened.

    It is a :class:`ValueError` too, so plain ``except ValueError`` works (docs/errors.md).
    """


class ServerError(NexusDataError):
    """The server answered a request with a failure code.

    ``code`` is the server's code (an ``int`` for ChaiNext, whatever the server sent otherwise)
    and ``info`` its text.
    """

    def __init__(self, message: str, code: int | str | None = None, info: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.info = info


class AuthenticationError(ServerError):
    """The server refused the credentials (ChaiNext login code other than 2001, Nexus token
    refused at the handshake)."""


class SubscriptionError(ServerError):
    """The server refused a subscription; ``code`` and ``info`` hold its answer."""


class ConnectionFailedError(NexusDataError, ConnectionError):
    """The feed could not be reached (or kept) after the configured number of consecutive
    failed attempts. A collector sets ``frame`` to the rows that arrived before, so they are not
    lost."""

    frame: object = None


class ProxyError(ConnectionFailedError):
    """The proxy refused where retrying cannot help: a 407 (the credentials), a CONNECT it does
    not allow (403) or does not do, a SOCKS username and password it refused, a destination its
    rules forbid, a proxy host name that does not resolve, or a proxy that speaks another protocol.
    ``proxy`` is its ``host:port`` and ``code`` its answer (the HTTP status or SOCKS reply code;
    ``None`` when it gave none)."""

    def __init__(self, message: str, proxy: str = "", code: int | None = None) -> None:
        super().__init__(message)
        self.proxy = proxy
        self.code = code
