"""The one simulated trading account behind the Nexus ``API_ORDER`` and ``API_RISK_POSITION`` pushes.

Orders are MARKET/IOC, fully filled across one to three counterparties at the market's mid plus
or minus a little; each fill updates the position of its symbol and book. All arithmetic is in
:class:`~decimal.Decimal` on whole cents and 0.0001 lots, so the sums the document implies hold
exactly: executions add up to their child order, children to the parent, amount = price x volume.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from .market import CPS, Market, now_ms

TRADED: tuple[str, ...] = ("BTCUSDT", "ETHUSDT")
"""The symbols the account trades (it serves risk rows of any served symbol: zeros for the others)."""
BOOKS: tuple[str, ...] = ("A", "B")
"""The account's books: the risk books the simulator serves by default."""
BROKER = "HOTCOINEX"
QUOTE = "USDT"
SIZES: dict[str, tuple[int, int]] = {"BTCUSDT": (100, 5_000), "ETHUSDT": (1_000, 50_000)}
"""Order sizes in lots of 0.0001: 0.01-0.5 BTC, 0.1-5 ETH."""

_ZERO = Decimal(0)


def _cents(cents: int) -> Decimal:
    return Decimal(cents).scaleb(-2)


def _lots(lots: int) -> Decimal:
    return Decimal(lots).scaleb(-4)


def _text(value: Decimal) -> str:
    """A decimal string without trailing zeros, as the order example writes them ("0.01", "48577")."""
    return format(value.normalize(), "f")


def _sorted(fields: dict[str, Any]) -> dict[str, Any]:
    """The fields in alphabetical order, as every level of the document's example has them."""
    return dict(sorted(fields.items()))


def _filled(volume: Decimal, amount: Decimal, executed: int) -> dict[str, str]:
    """The result fields of a fully filled IOC order (so ``pendingVolume`` is zero)."""
    return {
        "executeAmount": _text(amount),
        "executeTime": str(executed),
        "executeVolume": _text(volume),
        "orderResult": "FILLED",
        "orderVolume": _text(volume),
        "pendingVolume": "0",
        "status": "EXECUTED",
        "timeInForce": "IOC",
    }


def _split(total: int, parts: int, rng: random.Random) -> list[int]:
    """``total`` cut into ``parts`` positive integers."""
    cuts = sorted(rng.sample(range(1, total), parts - 1))
    return [b - a for a, b in zip([0, *cuts], [*cuts, total])]


@dataclass
class Position:
    """One symbol and book: the opening position plus today's fills.

    ``net_volume`` is signed (buys positive) and ``amount`` its signed cost, so
    ``netPl = mtmAmount - amount`` with ``mtmAmount = netVolume * mid``.
    """

    net_volume: Decimal = _ZERO
    amount: Decimal = _ZERO
    volume: Decimal = _ZERO
    gross_amount: Decimal = _ZERO
    daily_volume: Decimal = _ZERO
    daily_amount: Decimal = _ZERO

    def fill(self, side: str, price: Decimal, volume: Decimal, daily: bool = True) -> None:
        signed = volume if side == "BUY" else -volume
        self.net_volume += signed
        self.amount += signed * price
        self.volume += volume
        self.gross_amount += volume * price
        if daily:
            self.daily_volume += signed
            self.daily_amount += signed * price

    def row(self, symbol: str, book: str, mid: Decimal) -> dict[str, str]:
        """The push row, fields as in the document's example."""
        mtm = self.net_volume * mid
        return {
            "amount": f"{self.amount:.8f}",
            "book": book,
            "broker": BROKER,
            "dailyAmount": f"{self.daily_amount:.8f}",
            "dailyVolume": f"{self.daily_volume:.10f}",
            "grossAmount": f"{self.gross_amount:.8f}",
            "hedgePl": "0",
            "hedgeVolume": "0",
            "mtmAmount": f"{mtm:.8f}",
            "netPl": f"{mtm - self.amount:.8f}",
            "netVolume": f"{self.net_volume:.10f}",
            "symbol": symbol,
            "volume": f"{self.volume:.10f}",
        }


class Account:
    """The account: trades on demand, keeps positions per (symbol, book).

    Each trade steps the traded symbol's walk, so prices move even when nobody watches the book.
    Ids are 19-digit strings, increasing, drawn from the seeded generator.
    """

    def __init__(self, market: Market, seed: int) -> None:
        self._market = market
        self._rng = random.Random(f"{seed}:account")
        self._last_id = 1_513_108_459_000_000_000 + self._rng.randrange(10**15)
        self._orders = 0
        self._positions: dict[tuple[str, str], Position] = {}
        for symbol in TRADED:
            start = market.mid_cents(symbol)
            for book in BOOKS:
                opening = Position()
                lots = self._rng.randint(-20_000, 20_000)
                if lots:
                    price = round(start * (1 + self._rng.uniform(-0.02, 0.02)))
                    opening.fill("BUY" if lots > 0 else "SELL", _cents(price), _lots(abs(lots)), daily=False)
                self._positions[symbol, book] = opening

    def _next_id(self) -> str:
        self._last_id += self._rng.randint(1, 9_999)
        return str(self._last_id)

    def trade(self) -> dict[str, Any]:
        """Place and fill one parent order; returns it in the ``API_ORDER`` shape."""
        rng = self._rng
        symbol, book, side = rng.choice(TRADED), rng.choice(BOOKS), rng.choice(("BUY", "SELL"))
        mid = round(self._market.walk(symbol).step() * 100)
        slip = max(1, round(mid * 0.0002)) * (1 if side == "BUY" else -1)
        lots = rng.randint(*SIZES[symbol])
        position = self._positions[symbol, book]
        order_id = self._next_id()
        self._orders += 1
        order_time = now_ms() - rng.randint(200, 400)
        common = {"orderType": "MARKET", "side": side, "symbol": symbol}
        children = []
        total, done = _ZERO, order_time
        cps = rng.sample(CPS, rng.randint(1, 3))
        for n, (cp, child_lots) in enumerate(zip(cps, _split(lots, len(cps), rng))):
            cp_order_id = self._next_id()
            child_time = order_time + rng.randint(1, 20)
            executions = []
            child_total, child_done = _ZERO, child_time
            for exec_lots in _split(child_lots, min(child_lots, rng.randint(1, 3)), rng):
                price, volume = _cents(mid + round(slip * rng.random())), _lots(exec_lots)
                execute_time = child_time + rng.randint(20, 150)
                position.fill(side, price, volume)
                child_total += price * volume
                child_done = max(child_done, execute_time)
                executions.append(
                    {
                        **common,
                        "commissionCurrency": QUOTE,
                        "cp": cp,
                        "cpOrderId": cp_order_id,
                        "executeAmount": _text(price * volume),
                        "executeId": self._next_id(),
                        "executePrice": _text(price),
                        "executeTime": str(execute_time),
                        "executeVolume": _text(volume),
                        "orderId": order_id,
                    }
                )
            total += child_total
            done = max(done, child_done)
            children.append(
                {
                    **common,
                    **_filled(_lots(child_lots), child_total, child_done),
                    "commission": "0",
                    "cp": cp,
                    "cpOrderid": cp_order_id,
                    "executions": [_sorted(e) for e in executions],
                    "orderComment": f"[{book}:{order_id}.{n}",
                    "orderId": order_id,
                    "orderTime": str(child_time),
                }
            )
        return _sorted(
            {
                **common,
                **_filled(_lots(lots), total, done),
                "clientOrderId": str(self._orders),
                "cp": "",
                "cpOrderid": "0",
                "cpOrders": [_sorted(c) for c in children],
                "orderId": order_id,
                "orderTime": str(order_time),
            }
        )

    def positions(self, symbol: str, book: str) -> list[dict[str, str]]:
        """The ``API_RISK_POSITION`` rows of ``symbol`` in ``book`` at the current mid (one row;
        zeros for a pair the account never traded)."""
        position = self._positions.get((symbol, book), Position())
        return [position.row(symbol, book, _cents(self._market.mid_cents(symbol)))]
