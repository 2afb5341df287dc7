"""The tidy tables: column names and kinds, and how nested pushes are exploded into rows."""

from __future__ import annotations

import json
import re

import pytest
from spec_examples import FIXTURES, TABLE_SOURCE

from nexusdata.protocol import tables
from nexusdata.protocol.tables import TABLES, Field, Level, Table, snake_case


def payload(name: str):
    message = json.loads((FIXTURES / f"{name}.json").read_text(encoding="utf-8"))
    return message.get("data", message.get("args"))


ALL = [
    tables.DEPTH,
    tables.ORDERS,
    tables.CP_ORDERS,
    tables.EXECUTIONS,
    tables.RISK,
    tables.COIN_INDEX,
    tables.PAIR_INDEX,
    tables.INDEX,
    tables.COIN_INDEX_V3,
    tables.PAIR_INDEX_V3,
]

SOURCE = TABLE_SOURCE
ROWS = {
    "depth": 2,
    "orders": 1,
    "cp_orders": 1,
    "executions": 1,
    "risk": 1,
    "coin_index": 1,
    "pair_index": 3,
    "index": 1,
    "coin_index_v3": 1,
    "pair_index_v3": 1,
}


def names(table: Table) -> list[str]:
    return [c for c, _ in table.columns]


def test_registry_holds_every_table_by_name():
    assert TABLES == {t.name: t for t in ALL}
    assert list(TABLES) == list(SOURCE)


@pytest.mark.parametrize(
    "source, expected",
    [
        ("executeVolume", "execute_volume"),
        ("pairWeight", "pair_weight"),
        ("updateTime", "update_time"),
        ("cpOrderid", "cp_orderid"),
        ("cpOrderId", "cp_order_id"),
        ("clientOrderId", "client_order_id"),
        ("cmcSymbol", "cmc_symbol"),
        ("turnover24h", "turnover24h"),
        ("underlyingCid", "underlying_cid"),
        ("hedgePl", "hedge_pl"),
        ("symbol", "symbol"),
        ("pairUpdateTime", "pair_update_time"),
    ],
)
def test_snake_case(source, expected):
    assert snake_case(source) == expected
    assert Field(source, "text").name == expected


@pytest.mark.parametrize("table", ALL, ids=lambda t: t.name)
def test_column_names_are_unique_snake_case(table):
    cols = names(table)
    assert len(cols) == len(set(cols))
    for name in cols:
        assert re.fullmatch(r"[a-z][a-z0-9]*(_[a-z0-9]+)*", name), name
    assert "received_at" not in cols  # the frames layer adds it


@pytest.mark.parametrize("table", ALL, ids=lambda t: t.name)
def test_field_names_follow_their_source_except_the_documented_renames(table):
    renamed = {
        ("pair_index_v3", "status", "pair_status"),
        ("cp_orders", "orderId", "parent_order_id"),
        ("executions", "orderId", "parent_order_id"),
    }
    fields = list(table.fields) + [f for lv in table.levels for f in lv.fields]
    for f in fields:
        if f.name != snake_case(f.source):
            assert (table.name, f.source, f.name) in renamed


EXPECTED_COLUMNS = {
    "depth": ["symbol", "side", "level", "price", "volume", "cp", "time"],
    "orders": [
        "client_order_id",
        "account_id",
        "order_id",
        "symbol",
        "side",
        "status",
        "order_type",
        "time_in_force",
        "order_result",
        "order_volume",
        "execute_volume",
        "pending_volume",
        "execute_amount",
        "commission",
        "order_time",
        "execute_time",
        "cp",
        "cp_orderid",
        "order_comment",
    ],
    "cp_orders": [
        "client_order_id",
        "parent_order_id",
        "order_id",
        "symbol",
        "side",
        "status",
        "order_type",
        "time_in_force",
        "order_result",
        "order_volume",
        "execute_volume",
        "pending_volume",
        "execute_amount",
        "commission",
        "order_time",
        "execute_time",
        "cp",
        "cp_orderid",
        "order_comment",
    ],
    "executions": [
        "client_order_id",
        "parent_order_id",
        "execute_id",
        "order_id",
        "cp_order_id",
        "cp",
        "symbol",
        "side",
        "order_type",
        "commission_currency",
        "execute_price",
        "execute_volume",
        "execute_amount",
        "execute_time",
    ],
    "risk": [
        "symbol",
        "book",
        "broker",
        "cp",
        "amount",
        "volume",
        "daily_amount",
        "daily_volume",
        "gross_amount",
        "hedge_pl",
        "hedge_volume",
        "mtm_amount",
        "net_pl",
        "net_volume",
        "open_amount",
        "open_volume",
    ],
    "coin_index": ["cid", "symbol", "cmc_symbol", "latest", "update_time"],
    "pair_index": ["cid", "symbol", "cmc_symbol", "latest", "update_time", "market", "pair", "price", "timestamp"],
    "index": ["index_id", "last_price", "market_cap", "turnover24h", "update_time"],
    "coin_index_v3": ["underlying_symbol", "underlying_cid", "quote_symbol", "quote_cid", "price", "status", "update_time"],
    "pair_index_v3": [
        "underlying_symbol",
        "underlying_cid",
        "quote_symbol",
        "quote_cid",
        "price",
        "status",
        "coin_update_time",
        "exchange",
        "pair_symbol",
        "pair_price",
        "transferred_price",
        "pair_side",
        "pair_weight",
        "pair_status",
        "pair_update_time",
    ],
}


@pytest.mark.parametrize("table", ALL, ids=lambda t: t.name)
def test_columns(table):
    assert names(table) == EXPECTED_COLUMNS[table.name]


def test_cp_order_id_naming_differs_between_orders_and_executions():
    assert "cp_orderid" in names(tables.ORDERS) and "cp_order_id" not in names(tables.ORDERS)
    assert "cp_orderid" in names(tables.CP_ORDERS)
    assert "cp_order_id" in names(tables.EXECUTIONS) and "cp_orderid" not in names(tables.EXECUTIONS)


def test_pair_status_is_the_pairs_own_status():
    kinds = dict(tables.PAIR_INDEX_V3.columns)
    assert kinds["status"] == "int" and kinds["pair_status"] == "int"


@pytest.mark.parametrize(
    "table, column, kind",
    [
        (tables.ORDERS, "order_id", "id"),
        (tables.ORDERS, "client_order_id", "id"),
        (tables.ORDERS, "cp_orderid", "id"),
        (tables.ORDERS, "account_id", "id"),
        (tables.CP_ORDERS, "parent_order_id", "id"),
        (tables.EXECUTIONS, "execute_id", "id"),
        (tables.EXECUTIONS, "cp_order_id", "id"),
        (tables.EXECUTIONS, "order_id", "id"),
        (tables.COIN_INDEX, "cid", "id"),
        (tables.INDEX, "index_id", "id"),
        (tables.COIN_INDEX_V3, "underlying_cid", "id"),
        (tables.ORDERS, "order_time", "time"),
        (tables.ORDERS, "execute_time", "time"),
        (tables.DEPTH, "time", "time"),
        (tables.COIN_INDEX, "update_time", "time"),
        (tables.PAIR_INDEX, "timestamp", "time"),
        (tables.PAIR_INDEX_V3, "coin_update_time", "time"),
        (tables.PAIR_INDEX_V3, "pair_update_time", "time"),
        (tables.DEPTH, "price", "float"),
        (tables.DEPTH, "level", "position"),
        (tables.DEPTH, "side", "category"),
        (tables.ORDERS, "execute_volume", "float"),
        (tables.ORDERS, "order_comment", "text"),
        (tables.INDEX, "turnover24h", "float"),
        (tables.COIN_INDEX_V3, "price", "float"),
        (tables.PAIR_INDEX_V3, "pair_weight", "float"),
        (tables.PAIR_INDEX_V3, "pair_side", "category"),
        (tables.RISK, "open_amount", "float"),
    ],
)
def test_column_kinds(table, column, kind):
    assert dict(table.columns)[column] == kind


@pytest.mark.parametrize("table", ALL, ids=lambda t: t.name)
def test_flatten_spec_example(table):
    data = payload(SOURCE[table.name])
    columns, push = table.flatten([data])
    assert list(columns) == names(table)
    assert all(len(v) == ROWS[table.name] for v in columns.values())
    assert push == [0] * ROWS[table.name]
    # a batch of the same push three times is three times the rows, in push order
    columns3, push3 = table.flatten([data, data, data])
    n = ROWS[table.name]
    assert push3 == [0] * n + [1] * n + [2] * n
    assert all(v3 == v * 3 for v, v3 in zip(columns.values(), columns3.values()))


@pytest.mark.parametrize("table", ALL, ids=lambda t: t.name)
def test_flatten_empty_batch(table):
    columns, push = table.flatten([])
    assert columns == {name: [] for name in names(table)}
    assert push == []


def test_keep_empty_keeps_a_pair_index_v3_push_with_empty_pair_infos():
    data = {**payload("chainext_push_pair_index_v3"), "pairInfos": []}
    columns, push = tables.PAIR_INDEX_V3.flatten([data])
    assert push == [0]
    row = {k: v[0] for k, v in columns.items()}
    assert row["underlying_symbol"] == "ETH" and row["status"] == 1 and row["coin_update_time"] == 1578207030000
    for name in (
        "exchange",
        "pair_symbol",
        "pair_price",
        "transferred_price",
        "pair_side",
        "pair_weight",
        "pair_status",
        "pair_update_time",
    ):
        assert row[name] is None


@pytest.mark.parametrize("empty", [[], None, "missing"])
def test_keep_empty_in_a_batch(empty):
    full = payload("chainext_push_pair_index_v3")
    bare = {k: v for k, v in full.items() if k != "pairInfos"}
    if empty != "missing":
        bare["pairInfos"] = empty
    columns, push = tables.PAIR_INDEX_V3.flatten([full, bare, full])
    assert push == [0, 1, 2]
    assert columns["exchange"] == ["Bibox", None, "Bibox"]
    assert columns["pair_status"] == [2, None, 2]


def test_keep_empty_pair_index():
    data = {**payload("chainext_push_pair_index"), "exchangeInfos": []}
    columns, push = tables.PAIR_INDEX.flatten([data])
    assert push == [0]
    assert columns["symbol"] == ["BNB"] and columns["market"] == [None]


def test_depth_without_levels_has_no_rows():
    columns, push = tables.DEPTH.flatten([{"symbol": "BTCUSDT", "bids": [], "asks": []}, {"symbol": "X"}])
    assert push == [] and all(v == [] for v in columns.values())


def test_depth_levels_are_numbered_best_first_per_side():
    levels = [{"cp": c, "price": p, "time": "1", "volume": "1"} for c, p in (("a", "3"), ("b", "2"), ("c", "1"))]
    columns, _ = tables.DEPTH.flatten([{"symbol": "S", "asks": levels[:2], "bids": levels}])
    assert columns["side"] == ["bid", "bid", "bid", "ask", "ask"]
    assert columns["level"] == [0, 1, 2, 0, 1]
    assert columns["price"] == ["3", "2", "1", "3", "2"]


def test_pair_side_alias():
    info = {k: v for k, v in payload("chainext_push_pair_index_v3")["pairInfos"][0].items() if k != "pairSide"}
    data = {**payload("chainext_push_pair_index_v3"), "pairInfos": [{**info, "side": "B"}, {**info, "pairSide": "S"}]}
    columns, _ = tables.PAIR_INDEX_V3.flatten([data])
    assert columns["pair_side"] == ["B", "S"]


def test_executions_across_several_cp_orders():
    order = payload("nexus_push_order")[0]
    cp = order["cpOrders"][0]
    ex = cp["executions"][0]
    cp2 = {**cp, "cpOrderid": "2", "executions": [{**ex, "executeId": "e2"}, {**ex, "executeId": "e3"}]}
    cp3 = {**cp, "cpOrderid": "3", "executions": []}
    data = [{**order, "cpOrders": [cp, cp3, cp2]}]
    columns, push = tables.EXECUTIONS.flatten([data, data])
    assert columns["execute_id"] == ["1513108462073399317", "e2", "e3"] * 2
    assert columns["client_order_id"] == ["111"] * 6
    assert push == [0, 0, 0, 1, 1, 1]
    columns, push = tables.CP_ORDERS.flatten([data])
    assert columns["cp_orderid"] == ["1513108459472911381", "3", "2"]


def test_ids_keep_their_exact_digits():
    columns, _ = tables.EXECUTIONS.flatten([payload("nexus_push_order")])
    assert columns["execute_id"] == ["1513108462073399317"]
    assert isinstance(columns["execute_id"][0], str)
    assert int(columns["execute_id"][0]) == 1513108462073399317


@pytest.mark.parametrize(
    "table, bad",
    [
        (tables.DEPTH, None),
        (tables.DEPTH, "BTCUSDT"),
        (tables.DEPTH, {"symbol": "S", "bids": "x"}),
        (tables.DEPTH, {"symbol": "S", "bids": 5}),
        (tables.DEPTH, {"symbol": "S", "bids": {"cp": "a"}}),
        (tables.DEPTH, {"symbol": "S", "asks": [1, 2]}),
        (tables.ORDERS, [1]),
        (tables.ORDERS, ["x"]),
        (tables.ORDERS, [[{}]]),
        (tables.EXECUTIONS, [{"cpOrders": [{"executions": 7}]}]),
        (tables.EXECUTIONS, [{"cpOrders": ["a"]}]),
        (tables.EXECUTIONS, [{"cpOrders": True}]),
        (tables.RISK, 3.5),
        (tables.PAIR_INDEX_V3, {"pairInfos": 0}),
        (tables.PAIR_INDEX_V3, {"pairInfos": [None]}),
        (tables.PAIR_INDEX, {"exchangeInfos": ""}),
    ],
)
def test_wrong_shapes_raise_type_or_attribute_error(table, bad):
    good = payload(SOURCE[table.name])
    with pytest.raises((TypeError, AttributeError)):
        table.flatten([good, bad])
    # one payload at a time singles out the bad one
    assert table.flatten([good])[1] == [0] * ROWS[table.name]


def test_duplicate_column_names_are_refused():
    with pytest.raises(ValueError, match="duplicate column"):
        Table("t", fields=(Field("status", "int"),), levels=(Level(keys=("x",), fields=(Field("status", "int"),)),))


def test_table_columns_include_label_and_position():
    t = Table(
        "t",
        fields=(Field("a", "text"),),
        levels=(Level(keys=("l", "r"), labels=("L", "R"), label="lr", position="pos", fields=(Field("bValue", "float"),)),),
    )
    assert t.columns == (("a", "text"), ("lr", "category"), ("pos", "position"), ("b_value", "float"))
    columns, push = t.flatten([{"a": 1, "l": [{"bValue": 1}], "r": [{"bValue": 2}, {"bValue": 3}]}])
    assert columns == {"a": [1, 1, 1], "lr": ["L", "R", "R"], "pos": [0, 0, 1], "b_value": [1, 2, 3]}
    assert push == [0, 0, 0]


def test_keep_empty_with_label_and_position():
    t = Table(
        "t",
        fields=(Field("a", "text"),),
        levels=(Level(keys=("l",), label="lab", position="pos", keep_empty=True, fields=(Field("b", "text"),)),),
    )
    columns, _ = t.flatten([{"a": 1}])
    assert columns == {"a": [1], "lab": [None], "pos": [-1], "b": [None]}
