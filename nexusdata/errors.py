"""The one exception hierarchy of nexusdata: every error the package raises itself derives from
:class:`NexusDataError`, so ``except nd.NexusDataError`` catches them all."""

from __future__ import annotations


class NexusDataError(Exception):
    """Base of every error nexusdata raises itself."""


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
