"""The ChaiNext catalogue and the push of each topic, in the exact shapes of the document's examples.

A subscription owns an :class:`IndexStream`: its own seeded noise (exchange quotes, pair
weights, drops) over the shared price path of its coin or index in the :class:`Market`.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from decimal import Decimal, localcontext
from typing import Any, NamedTuple

from ..protocol import chainext
from ..protocol.session import dumps
from .market import Market, now_ms, start_price


class Coin(NamedTuple):
    symbol: str
    cmc_symbol: str
    price: float


COINS: dict[str, Coin] = {
    "0": Coin("BTC", "bitcoin", 48000.0),
    "1": Coin("ETH", "ethereum", 3000.0),
    "18": Coin("BNB", "binance-coin", 400.0),
    "2": Coin("LTC", "litecoin", 150.0),
}
"""Coin ids of the coin topics (``coin_index``, ``pair_index``, ``*_v3``)."""

INDEX_TOPIC = "index"
INDICES: dict[str, float] = {"11": 733.5, "1": 1000.0}
"""Index ids of the ``index`` topic, with their starting level."""

EXCHANGES: tuple[str, ...] = ("Binance", "OKEx", "Huobi", "Gate.io", "Coinbase", "Kraken", "Bitfinex", "Bibox")
QUOTES: dict[str, float] = {"USDT": 0.9998, "USD": 1.0, "USDC": 1.0001}
"""Pair quote currencies and their USD rate (``transferredPrice = pairPrice * rate``)."""
QUOTE_SYMBOL, QUOTE_CID = "USD", 100000
V3_DECIMALS = Decimal(10) ** -20
_NUMBER_SLOT = "__v3_price__"


def coin(key: str) -> Coin:
    """The catalogue's coin ``key``, or for an id served beyond it (``Simulator(coins=...)``) a
    coin named after the id, its price derived from it as an unknown symbol's is."""
    return COINS.get(key) or Coin(f"C{key}", f"coin-{key}", start_price(f"coin:{key}"))


def _with_number(text: str, number: str) -> str:
    """``text`` with the price placeholder replaced by the JSON number ``number`` verbatim (v3
    prices carry 20 decimals, more than a float holds, and orjson writes only floats)."""
    return text.replace(f'"{_NUMBER_SLOT}"', number, 1)


class IndexStream:
    """The pushes of one subscription (``topic``, ``key``); :meth:`next` gives the next frame."""

    def __init__(self, topic: str, key: str, market: Market) -> None:
        self.topic = topic
        self.key = key
        self._rng = random.Random(f"{market.seed}:{topic}:{key}")
        if topic == INDEX_TOPIC:
            self._walk = market.walk(f"index:{key}", INDICES.get(key))  # another id: a level from its name
        else:
            self._coin = coin(key)
            self._walk = market.walk(f"coin:{key}", self._coin.price)
        self._pairs = self._pair_layout()
        builders: dict[str, Callable[[], str]] = {
            "coin_index": self._coin_index,
            "pair_index": self._pair_index,
            INDEX_TOPIC: self._index,
            "coin_index_v3": self._coin_index_v3,
            "pair_index_v3": self._pair_index_v3,
        }
        self.next: Callable[[], str] = builders[topic]

    def _message(self, args: dict[str, Any]) -> dict[str, Any]:
        return chainext.message(self.topic, args)

    def _coin_index(self) -> str:
        return dumps(
            self._message(
                {
                    "cid": int(self.key),
                    "symbol": self._coin.symbol,
                    "cmcSymbol": self._coin.cmc_symbol,
                    "latest": repr(self._walk.step()),
                    "updateTime": int(time.time()),
                }
            )
        )

    def _pair_index(self) -> str:
        rng, price, stamp = self._rng, self._walk.step(), now_ms()
        infos = [
            {
                "market": market,
                "pair": f"{self._coin.symbol}_USDT",
                "price": f"{price * (1 + rng.uniform(-0.002, 0.002)):.4f}",
                "timestamp": stamp - rng.randint(0, 5_000),
            }
            for market in rng.sample(EXCHANGES, rng.randint(3, 5))
        ]
        return dumps(
            self._message(
                {
                    "symbol": self._coin.symbol,
                    "cmcSymbol": self._coin.cmc_symbol,
                    "latest": f"{price:.4f}",
                    "updateTime": stamp,
                    "cid": int(self.key),
                    "exchangeInfos": infos,
                }
            )
        )

    def _index(self) -> str:
        rng, level = self._rng, self._walk.step()
        market_cap = level * 2.8e8 * (1 + rng.uniform(-0.001, 0.001))
        return dumps(
            self._message(
                {
                    "indexId": int(self.key),
                    "lastPrice": format(Decimal(level), ".25f"),
                    "marketCap": f"{market_cap:.6f}",
                    "turnover24h": f"{market_cap * rng.uniform(0.2, 0.35):.5f}",
                    "updateTime": int(time.time()),
                }
            )
        )

    def _v3_head(self) -> dict[str, Any]:
        return {
            "underlyingSymbol": self._coin.symbol,
            "underlyingCid": int(self.key),
            "quoteSymbol": QUOTE_SYMBOL,
            "quoteCid": QUOTE_CID,
            "price": _NUMBER_SLOT,
            "status": 1,
        }

    def _coin_index_v3(self) -> str:
        price = format(Decimal(self._walk.step()).quantize(V3_DECIMALS), "f")
        return _with_number(dumps(self._message({**self._v3_head(), "updateTime": now_ms()})), price)

    def _pair_layout(self) -> list[tuple[str, str, int]]:
        """The configured pairs of a ``pair_index_v3`` subscription: 5-8 (exchange, quote,
        weight), one configured with weight 0 (status 3, disabled)."""
        if self.topic != "pair_index_v3":
            return []
        rng = self._rng
        exchanges = rng.sample(EXCHANGES, rng.randint(5, 8))
        weights = [rng.randint(1, 10) for _ in exchanges]
        weights[rng.randrange(len(weights))] = 0
        return [(exchange, rng.choice(list(QUOTES)), weight) for exchange, weight in zip(exchanges, weights)]

    def _pair_index_v3(self) -> str:
        """Pairs this round: dropped ones (status 2, probability 0.15) zeroed as in the example,
        disabled ones priced but weightless; the price is the weighted mean of the enabled
        ``transferredPrice`` values, the weights of enabled pairs summing to 1."""
        rng, usd, stamp = self._rng, self._walk.step(), now_ms()
        drops = [weight > 0 and rng.random() < 0.15 for _, _, weight in self._pairs]
        if all(dropped or not weight for dropped, (_, _, weight) in zip(drops, self._pairs)):
            drops[next(i for i, (_, _, weight) in enumerate(self._pairs) if weight)] = False
        active = sum(weight for dropped, (_, _, weight) in zip(drops, self._pairs) if not dropped)
        infos = []
        for dropped, (exchange, quote, weight) in zip(drops, self._pairs):
            pair_price = round(usd / QUOTES[quote] * (1 + rng.uniform(-0.003, 0.003)), 6)
            side = rng.choice("BS")
            updated = stamp - rng.randint(0, 3_000)
            infos.append(
                {
                    "exchange": exchange,
                    "pairSymbol": f"{self._coin.symbol}_{quote}",
                    "pairPrice": 0 if dropped else pair_price,
                    "transferredPrice": 0 if dropped else round(pair_price * QUOTES[quote], 8),
                    "pairSide": "N" if dropped else side,
                    "pairWeight": 0 if dropped or not weight else weight / active,
                    "status": 2 if dropped else 1 if weight else 3,
                    "pairUpdateTime": 0 if dropped else updated,
                }
            )
        with localcontext() as ctx:
            ctx.prec = 60
            enabled = [(Decimal(i["pairWeight"]), Decimal(i["transferredPrice"])) for i in infos if i["status"] == 1]
            mean = sum((w * p for w, p in enabled), Decimal(0)) / sum((w for w, _ in enabled), Decimal(0))
            price = format(mean.quantize(V3_DECIMALS), "f")
        message = self._message({**self._v3_head(), "coinUpdateTime": stamp, "pairInfos": infos})
        return _with_number(dumps(message), price)
