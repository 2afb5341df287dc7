"""The registry of subscription kinds, and the checks of every argument that names one.

A kind is what a user asks for by name (``depth``, ``orders``, ``executions``, ``risk``,
``pair_index_v3``, ...): the service that serves it, the table its pushes are flattened into,
how one subscription is built from checked arguments, how it is labelled, and whether a live
chart draws it (the registry of charts, :mod:`nexusdata.charts`, says). The collectors, live handles, the recorder, the reader, replay and the command
line all read :data:`KINDS`, so a new kind (or a new view of the orders) is one entry here and
one table in :mod:`nexusdata.protocol.tables` (docs/architecture.md shows one).
"""

from __future__ import annotations

import functools
import inspect
import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

from .charts import charts_of
from .checks import nonempty_str, positive_int, positive_number
from .errors import ArgumentError
from .protocol import (
    IndexSubscription,
    NexusSubscription,
    Table,
    chainext,
    nexus,
    tables,
)

Subscription = NexusSubscription | IndexSubscription
Build = Callable[[Any, Any], Subscription]
"""``build(key, depth)``: one checked subscription from its key (a symbol, a (symbol, book)
pair, an id, or ``None`` for the orders) and the book depth (used by ``depth`` only)."""


@dataclass(frozen=True)
class Kind:
    """One subscription kind users can name."""

    name: str
    """Its public name: the table's name, and the ``feed=`` of a recording's files."""
    service: str
    """The service that serves it (a key of :data:`~nexusdata.protocol.services.SERVICES`)."""
    table: Table
    key: str | None
    """What names one subscription (``symbol``, ``(symbol, book) pair``, ``id``), ``None`` for the orders."""
    column: str
    """The column telling its subscriptions' rows apart (a recording's partition key comes from it)."""
    build: Build

    @property
    def chart(self) -> bool:
        """Whether a live chart draws it (the registry of charts, :data:`~nexusdata.charts.CHARTS`,
        has one of it)."""
        return bool(charts_of(self.name))

    def subscription(self, key: Any = None, depth: Any = 5) -> Subscription:
        """One checked subscription (see :data:`Build`)."""
        return self.build(key, depth)

    def subscriptions(self, keys: Iterable[Any], depth: Any = 5) -> tuple[Subscription, ...]:
        """Checked subscriptions to every key, without repeats: at least one (none for the orders,
        which take no key)."""
        keys = list(keys)
        if self.key is None:
            if keys:
                raise ArgumentError(f"{self.name} is the account's orders and takes no symbol or id, got {keys!r}")
            return (self.subscription(),)
        if not keys:
            raise ArgumentError(f"{self.name} needs at least one {self.key}")
        return tuple(dict.fromkeys(self.subscription(key, depth) for key in keys))

    def label(self, subscription: Subscription) -> str:
        """The subscription in a few words, for progress bars, handles and messages."""
        if isinstance(subscription, IndexSubscription):
            return f"{subscription.topic} {subscription.id}"
        return " ".join(w for w in (subscription.symbol, subscription.book, self.name) if w)

    def labels(self, subscriptions: Iterable[Subscription]) -> str:
        """Several subscriptions in a few words: ``BTCUSDT depth``, ``BTCUSDT, ETHUSDT depth``,
        ``pair_index_v3 1, 2``, or the first ones and how many in all."""
        subs = list(subscriptions)
        if len(subs) == 1:
            return self.label(subs[0])
        keys = [self.key_of(s) for s in subs]
        shown = ", ".join(keys[:MAX_SHOWN]) + (f", … ({len(keys)} in all)" if len(keys) > MAX_SHOWN else "")
        return f"{self.name} {shown}" if self.key == "id" else f"{shown} {self.name}"  # as label() orders them

    def key_of(self, subscription: Subscription) -> str:
        """What names the subscription in a label: its symbol (and book) or id."""
        if isinstance(subscription, IndexSubscription):
            return subscription.id
        return " ".join(w for w in (subscription.symbol, subscription.book) if w)

    def value_of(self, subscription: Subscription) -> str | None:
        """The value of :attr:`column` in this subscription's rows (``None`` for the orders)."""
        return subscription.id if isinstance(subscription, IndexSubscription) else subscription.symbol


MAX_SHOWN = 3
"""Subscriptions a label names before it counts the rest."""


def keys(value: object) -> list[Any]:
    """One key or several: a list, tuple or set gives its items (in order), anything else is one
    key (a symbol, an id, a (symbol, book) pair is built by the caller)."""
    if isinstance(value, (list, tuple, set, frozenset)):
        return list(value)
    return [value]


def symbol_of(key: object) -> str:
    """A checked symbol: a non-empty string, stripped."""
    return nonempty_str(key, "symbol")


def depth_of(depth: object) -> int:
    """A checked book depth: levels per side, from 1 to :data:`~nexusdata.protocol.nexus.MAX_DEPTH`."""
    return positive_int(depth, "depth", maximum=nexus.MAX_DEPTH)


def id_of(key: object) -> str:
    """A coin or index id: a non-empty string or a whole number >= 0, as text."""
    if isinstance(key, bool) or not isinstance(key, (str, int)) or (isinstance(key, int) and key < 0):
        raise ArgumentError(f"id must be a coin or index id (string or whole number >= 0), got {key!r}")
    return nonempty_str(str(key), "id")


def _depth(key: Any, depth: Any) -> Subscription:
    return nexus.depth(symbol_of(key), depth_of(depth))


def _orders(key: Any, depth: Any) -> Subscription:
    return nexus.orders()


def _risk(key: Any, depth: Any) -> Subscription:
    if isinstance(key, str) or not isinstance(key, (tuple, list)) or len(key) != 2:
        raise ArgumentError(f"risk is subscribed per (symbol, book) pair, got {key!r}")
    return nexus.risk(symbol_of(key[0]), nonempty_str(key[1], "book"))


def _topic(topic: str) -> Build:
    return lambda key, depth: IndexSubscription(topic, id_of(key))


OrderRows = Literal["orders", "cp_orders", "executions"]
ORDER_VIEWS: tuple[str, ...] = ("orders", "cp_orders", "executions")
"""The views of the account's order results: one row per parent order update, per child order,
per execution. ``rows=`` chooses one wherever orders are collected, recorded or read; replay
prefers them in this order when a recording holds several."""

KINDS: dict[str, Kind] = {
    kind.name: kind
    for kind in (
        Kind("depth", "nexus", tables.DEPTH, "symbol", "symbol", _depth),
        Kind("orders", "nexus", tables.ORDERS, None, "symbol", _orders),
        Kind("cp_orders", "nexus", tables.CP_ORDERS, None, "symbol", _orders),
        Kind("executions", "nexus", tables.EXECUTIONS, None, "symbol", _orders),
        Kind("risk", "nexus", tables.RISK, "(symbol, book) pair", "symbol", _risk),
        Kind("coin_index", "chainext", tables.COIN_INDEX, "id", "cid", _topic("coin_index")),
        Kind("pair_index", "chainext", tables.PAIR_INDEX, "id", "cid", _topic("pair_index")),
        Kind("index", "chainext", tables.INDEX, "id", "index_id", _topic("index")),
        Kind("coin_index_v3", "chainext", tables.COIN_INDEX_V3, "id", "underlying_cid", _topic("coin_index_v3")),
        Kind("pair_index_v3", "chainext", tables.PAIR_INDEX_V3, "id", "underlying_cid", _topic("pair_index_v3")),
    )
}
"""Every subscription kind, by public name."""


def kind(name: object) -> Kind:
    """The kind called ``name``, else an :class:`ArgumentError` listing them."""
    if not isinstance(name, str) or name not in KINDS:
        raise ArgumentError(f"kind must be one of {', '.join(KINDS)}, got {name!r}")
    return KINDS[name]


def order_view(rows: object) -> Kind:
    """The order view ``rows`` names (one of :data:`ORDER_VIEWS`)."""
    if rows not in ORDER_VIEWS:
        raise ArgumentError(f"rows must be one of {', '.join(map(repr, ORDER_VIEWS))}, got {rows!r}")
    return KINDS[str(rows)]


def topic(name: object) -> Kind:
    """The ChaiNext topic ``name``, else an :class:`ArgumentError` listing the topics."""
    if not isinstance(name, str) or name not in chainext.TOPICS:
        raise ArgumentError(f"topic must be one of {', '.join(chainext.TOPICS)}, got {name!r}")
    return KINDS[name]


def with_rows(name: object, rows: object, *, stacklevel: int = 3) -> Kind:
    """The kind a recording call names: ``name`` itself, or for ``"orders"`` the view ``rows``
    chooses. An order view given by name (``"executions"``) still works, with a
    :class:`DeprecationWarning` (``stacklevel`` points it at the user's call): ``rows=`` is the
    one way to choose it."""
    if name in ORDER_VIEWS[1:]:
        if rows is not None:
            raise ArgumentError(f"give the order view once: kind='orders', rows={name!r}")
        warnings.warn(f"kind={name!r} is deprecated: use 'orders' with rows={name!r}", DeprecationWarning, stacklevel=stacklevel)
        return KINDS[str(name)]
    if name == "orders":
        return order_view("orders" if rows is None else rows)
    if rows is not None:
        raise ArgumentError(f"rows= chooses a view of the orders; {name} has none")
    return kind(name)


def check_run(seconds: object, max_messages: object) -> tuple[float, int | None]:
    """Checked ``seconds`` (positive, may be ``inf`` when ``max_messages`` is set) and
    ``max_messages`` (``None`` or >= 1)."""
    limit = None if max_messages is None else positive_int(max_messages, "max_messages")
    return positive_number(seconds, "seconds", allow_inf=limit is not None), limit


F = TypeVar("F", bound=Callable[..., Any])


def checkable(service: str) -> list[Kind]:
    """The kinds a first-contact check of ``service`` may subscribe to (those one symbol or id
    names), the default first."""
    return [kind for kind in KINDS.values() if kind.service == service and kind.key in ("symbol", "id")]


def renamed(value: Any, former: Any, old: str, new: str, *, stacklevel: int = 3) -> Any:
    """An argument given as ``new=``, or as ``old=``, its former name (which still works, with a
    :class:`DeprecationWarning` pointing at the user's call); both at once is an :class:`ArgumentError`."""
    if former is None:
        return value
    if value is not None:
        raise ArgumentError(f"{new} and {old} are one argument ({old} is its former name): give {new} only")
    warnings.warn(f"{old}= is deprecated: use {new}=", DeprecationWarning, stacklevel=stacklevel)
    return former


def keyword_only(positional: int, name: str) -> Callable[[F], F]:
    """Warn when a call passes more than ``positional`` arguments by position: the next one,
    ``name``, is a number whose meaning a reader cannot tell from the call (``stream_depth(
    "BTCUSDT", 10)`` is seconds, ``live_depth("BTCUSDT", 10)`` levels). It still works, with a
    :class:`DeprecationWarning` asking for ``name=``."""

    def decorate(function: F) -> F:
        def check(args: tuple[Any, ...]) -> None:
            if len(args) > positional:
                warnings.warn(
                    f"{function.__name__}: pass {name}= by keyword (a number in position {positional + 1} is deprecated)",
                    DeprecationWarning,
                    stacklevel=3,
                )

        if inspect.iscoroutinefunction(function):  # the asyncio forms: still a coroutine function

            @functools.wraps(function)
            async def awaited(*args: Any, **kwargs: Any) -> Any:
                check(args)
                return await function(*args, **kwargs)

            return awaited  # type: ignore[return-value]

        @functools.wraps(function)
        def checked(*args: Any, **kwargs: Any) -> Any:
            check(args)
            return function(*args, **kwargs)

        return checked  # type: ignore[return-value]

    return decorate
