"""Endpoint URLs: checking them, adding the Nexus path and token, and redacting secrets.

The Nexus token travels in the URL's query string, so any URL shown to a user (log line,
exception, repr) goes through :func:`redact` first.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from ..errors import ArgumentError

_ACCEPTED = "a ws:// or wss:// URL with a host (and a port from 1 to 65535)"
NEXUS_PATH = "/api/realtime"
CHAINEXT_PATH = "/websocket"
TOKEN_PARAM = "X-API-TOKEN"
_USER_PASSWORD = re.compile(r"(://[^/@:\s]*:)\S*@")  # to the last @ (a password may hold one): may hide more, never less
_SECRET_PARAMS = re.compile(r"(?i)([?&](?:x-api-token|token|apikey|api_key|signature|secret)=)[^&#\s'\"]*")


def check_ws_url(url: object, argument: str = "url") -> str:
    """``url`` if it is a ``ws://`` or ``wss://`` URL with a host, else an :class:`ArgumentError`
    naming ``argument``."""
    if not isinstance(url, str) or not url.strip():
        raise ArgumentError(f"{argument} must be a ws:// or wss:// URL, got {type(url).__name__}")
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        raise ArgumentError(f"{argument} must be {_ACCEPTED}, got {redact(url)!r}") from None
    if parts.scheme not in ("ws", "wss") or not parts.hostname:
        raise ArgumentError(f"{argument} must be {_ACCEPTED}, got {redact(url)!r}")
    try:
        _ = parts.port  # reading it checks it
    except ValueError:
        raise ArgumentError(f"{argument} has an invalid port; it must be {_ACCEPTED}, got {redact(url)!r}") from None
    return url.strip()


def nexus_url(base: str, token: str) -> str:
    """The realtime URL: ``base`` with ``/api/realtime`` added when its path is empty and the
    token set as ``X-API-TOKEN`` (replacing any token already in the query)."""
    parts = urlsplit(base)
    path = parts.path.rstrip("/") or NEXUS_PATH
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k.lower() != TOKEN_PARAM.lower()]
    query.append((TOKEN_PARAM, token))
    return urlunsplit((parts.scheme, parts.netloc, path, urlencode(query), ""))


def chainext_url(base: str) -> str:
    """The ChaiNext URL: ``base`` with ``/websocket`` added when its path is empty (both
    documented endpoints serve it there, so a bare host means it)."""
    parts = urlsplit(base)
    if parts.path.strip("/"):
        return base
    return urlunsplit((parts.scheme, parts.netloc, CHAINEXT_PATH, parts.query, parts.fragment))


def redact(text: str) -> str:
    """``text`` with secret-looking query parameters (the Nexus token among them) and any
    password in a URL's user part masked."""
    return _USER_PASSWORD.sub(r"\1***@", _SECRET_PARAMS.sub(r"\1***", text))
