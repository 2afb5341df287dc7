"""The services nexusdata speaks to, each described once and registered in :data:`SERVICES`.

A :class:`Service` says everything the layers above the protocol need to know about one
service: its credentials and their environment variables, where its websocket endpoint lives
and how the URL to open is made, the session that speaks its protocol, the word that names one
of its subscriptions, whether it logs in by message, and what its messages look like (so a
session can tell a server of another service). Configuration, the registry of subscription
kinds, recordings, the first-contact check, the failure diagnosis and the command line all read
it, so a new service is a module of its protocol and one entry here (docs/architecture.md,
"Adding a service").
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from . import chainext, nexus, urls
from .session import Session, Stranger, serves

Credentials = Mapping[str, str]
"""A service's credentials by keyword (``token``; ``api_key`` and ``api_secret``)."""


@dataclass(frozen=True)
class Service:
    """One service nexusdata speaks to."""

    name: str
    """Its name in calls, commands and the registry: ``nexus``, ``chainext``."""
    title: str
    """Its name in messages: ``Nexus``, ``ChaiNext``."""
    credentials: tuple[str, ...]
    """The keywords it takes besides ``url``, in order."""
    secrets: tuple[str, ...]
    """Those of :attr:`credentials` never shown (scrubbed from every message, log line and trace)."""
    path: str
    """Where its websocket endpoint lives on a host (added to a bare host's URL)."""
    example_url: str
    """A documented endpoint, for help texts."""
    key: str
    """The word naming one of its subscriptions (``symbol``, ``id``): a recording's partition key."""
    logs_in: bool
    """Whether it logs in by message after connecting (else the credentials go with the handshake,
    and a 401 or 403 there means they were refused)."""
    defines_replies: bool
    """Whether its documents define the reply to a subscription."""
    looks_like: Callable[[Mapping[str, Any]], bool]
    """Whether a decoded message has this service's shape (a server of it answering another's client)."""
    url_of: Callable[[str, Credentials], str]
    """The URL to open, from the endpoint's URL and the credentials."""
    make_session: Callable[[Iterable[Any], Credentials, tuple[Stranger, ...]], Session[Any]]
    """A fresh protocol session for one connection (the other services' shapes given to tell them)."""

    @property
    def env(self) -> dict[str, str]:
        """The environment variable behind each keyword, ``url`` first: ``NEXUSDATA_<NAME>_<KEYWORD>``."""
        return {keyword: f"NEXUSDATA_{self.name.upper()}_{keyword.upper()}" for keyword in ("url", *self.credentials)}

    def session(self, subscriptions: Iterable[Any], credentials: Credentials) -> Session[Any]:
        """A fresh protocol session for one connection to this service."""
        strangers = tuple(Stranger(o.name, o.title, o.path, o.looks_like) for o in SERVICES.values() if o is not self)
        return self.make_session(subscriptions, credentials, strangers)

    @property
    def advice_context(self) -> dict[str, str]:
        """The blanks of the advice (:class:`~nexusdata.errors.Cause`) about this service: its
        name, its credentials and the flags, keywords and variables that give them, where every
        service's endpoint lives."""
        names = self.credentials
        one = len(names) == 1
        return {
            "service": self.name,
            "credentials": " and ".join(names),
            "them": "it" if one else "them",
            "they": "it was" if one else "they were",
            "flags": "; ".join(f"--{n.replace('_', '-')}, {n}= or {self.env[n]}" for n in names),
            "paths": serves((s.title, s.path) for s in SERVICES.values()),
        }


SERVICES: dict[str, Service] = {
    service.name: service
    for service in (
        Service(
            "nexus",
            "Nexus",
            credentials=("token",),
            secrets=("token",),
            path=urls.NEXUS_PATH,
            example_url="wss://uat.smartcrypto.cc:444",
            key="symbol",
            logs_in=False,
            defines_replies=False,
            looks_like=nexus.looks_like,
            url_of=lambda url, credentials: urls.nexus_url(url, credentials["token"]),
            make_session=lambda subs, credentials, strangers: nexus.NexusSession(
                subs, token=credentials["token"], strangers=strangers
            ),
        ),
        Service(
            "chainext",
            "ChaiNext",
            credentials=("api_key", "api_secret"),
            secrets=("api_secret",),
            path=urls.CHAINEXT_PATH,
            example_url="wss://vipapi.chainext.io/websocket",
            key="id",
            logs_in=True,
            defines_replies=True,
            looks_like=chainext.looks_like,
            url_of=lambda url, credentials: urls.chainext_url(url),
            make_session=lambda subs, credentials, strangers: chainext.ChaiNextSession(
                subs, credentials["api_key"], credentials["api_secret"], strangers=strangers
            ),
        ),
    )
}
"""Every service by name."""
