"""What SQLite plans to do for the store's reads: ``EXPLAIN QUERY PLAN``, step by step.

:func:`plans_of` runs one of the store's read functions (:mod:`amc_tui.store.queries`,
:mod:`amc_tui.store.executions`) on a connection, records each statement it ran (with
its values, through SQLite's trace hook) and asks SQLite for the plan of each.  A
:class:`Plan` names the tables it reads whole (:attr:`Plan.full_scans`): on a history
of years, every read the screens make must reach its rows through an index instead.
``bench/history_scale.py`` prints the plans; the tests assert them.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from dataclasses import dataclass

_READS = ("SELECT", "WITH")


@dataclass(frozen=True)
class Plan:
    """One statement and SQLite's plan for it (the ``detail`` column, indented by depth)."""

    sql: str
    steps: tuple[str, ...]

    @property
    def full_scans(self) -> list[str]:
        """The tables read row by row without an index.

        A step ``SCAN name`` with no ``USING`` reads all of ``name``.  Scans of a
        subquery's result (``CO-ROUTINE``/``MATERIALIZE name``), of a table-valued
        function (``VIRTUAL TABLE``) and ordered walks of an index (``USING INDEX``,
        stopped by a ``LIMIT``) are not counted.
        """
        steps = [step.strip() for step in self.steps]
        derived = {
            step.split()[1]
            for step in steps
            if step.startswith(("CO-ROUTINE ", "MATERIALIZE ")) and len(step.split()) > 1
        }
        scans = []
        for step in steps:
            words = step.split()
            if (
                len(words) >= 2
                and words[0] == "SCAN"
                and "USING" not in words
                and "VIRTUAL" not in words
                and words[1] not in derived
            ):
                scans.append(words[1])
        return scans

    def describe(self) -> str:
        """The statement on one line, then its plan."""
        return " ".join(self.sql.split()) + "\n" + "\n".join(f"  {s}" for s in self.steps)


def explain(conn: sqlite3.Connection, sql: str) -> Plan:
    """SQLite's plan for ``sql`` (a statement with its values written in)."""
    rows = conn.execute("EXPLAIN QUERY PLAN " + sql).fetchall()
    depth: dict[int, int] = {0: -1}
    steps = []
    for node, parent, _unused, detail in rows:
        depth[node] = depth.get(parent, -1) + 1
        steps.append("  " * depth[node] + str(detail))
    return Plan(sql.strip(), tuple(steps))


def plans_of(conn: sqlite3.Connection, read: Callable[[sqlite3.Connection], object]) -> list[Plan]:
    """Run ``read(conn)`` and return the plan of every ``SELECT`` it ran, in order."""
    statements: list[str] = []
    conn.set_trace_callback(statements.append)
    try:
        read(conn)
    finally:
        conn.set_trace_callback(None)
    return [explain(conn, sql) for sql in statements if sql.lstrip().upper().startswith(_READS)]
