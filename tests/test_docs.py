"""The docs name what the code produces: every DataFrame column is in docs/schemas.md and in the
README's column table, so neither rots when a table changes."""

from __future__ import annotations

from pathlib import Path

import pytest

from nexusdata.frames import schema
from nexusdata.protocol import tables

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("table", list(tables.TABLES.values()), ids=lambda t: t.name)
def test_schemas_page_names_every_column(table: tables.Table) -> None:
    text = (ROOT / "docs" / "schemas.md").read_text(encoding="utf-8")
    missing = [
        name for name, _ in schema(table) if f"`{name}`" not in text and f" {name}," not in text and f" {name}`" not in text
    ]
    assert not missing, f"docs/schemas.md does not name {missing} of {table.name}"


def test_readme_column_table_lists_each_tables_columns_in_order() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    rows = {line.split("|")[1].strip(): line.split("|")[2].strip(" `") for line in readme.splitlines() if line.startswith("| `")}
    views = {
        "`stream_depth`": tables.DEPTH,
        "`collect_orders`": tables.ORDERS,
        '`collect_orders(rows="executions")`': tables.EXECUTIONS,
        "`collect_risk`": tables.RISK,
        **{f'`collect_index("{name}")`': table for name, table in tables.TABLES.items() if table.envelope == "args"},
    }
    for label, table in views.items():
        assert rows[label] == ", ".join(name for name, _ in table.columns), label


def causes_table() -> str:
    """The table of docs/errors.md, "Why a run failed": every cause, what it means and its advice."""
    from nexusdata.errors import Cause

    lines = ["| cause | what happened | advice (its blanks filled for the case at hand) |", "|---|---|---|"]
    lines += [f"| `{cause.name}` | {cause.summary} | {cause.advice.replace('|', chr(92) + '|')} |" for cause in Cause]
    return "\n".join(lines)


def test_errors_page_lists_every_cause_with_its_advice() -> None:
    """Each piece of advice is written once, in ``Cause``; docs/errors.md shows them as they are
    (``python tests/test_docs.py`` prints the table)."""
    assert causes_table() in (ROOT / "docs" / "errors.md").read_text(encoding="utf-8")


if __name__ == "__main__":
    print(causes_table())
