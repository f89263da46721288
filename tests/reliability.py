"""What the fault tests saw, for the table in ``docs/reliability.md``.

A test that tries a fault on purpose (marked ``@pytest.mark.reliability``) asserts
what must hold, then calls :func:`record` with what happened: the outcome in a
sentence, the calls made, and the most executions in flight against the limit.
When ``AMC_TUI_RELIABILITY_REPORT`` names a file, each record is appended to it as
one JSON line; ``scripts/reliability_report.py`` runs the marked tests with it set
and writes the table.  Without it, :func:`record` does nothing, so the tests run the
same in CI.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path

REPORT_ENV = "AMC_TUI_RELIABILITY_REPORT"


def record(
    fault: str,
    outcome: str,
    *,
    calls: Mapping[str, int] | None = None,
    max_in_flight: int | None = None,
    limit: int | None = None,
    group: str = "AMC",
) -> None:
    """Note one fault tried and what happened (after the test's own asserts).

    ``fault`` names what was done ("429 storm, Retry-After 1 s"); ``outcome`` says
    how it ended ("all 10 succeeded; 14 creates were throttled and retried");
    ``calls`` counts requests by kind (the simulator's ``stats.requests``);
    ``max_in_flight`` and ``limit`` show the concurrency limit held; ``group`` is the
    table's section ("AMC", "Token", "Store and files", "Process", "Security").
    """
    target = os.environ.get(REPORT_ENV)
    if not target:
        return
    if max_in_flight is not None and limit is not None:
        assert max_in_flight <= limit, f"{max_in_flight} in flight, limit {limit}"
    line = {
        "group": group,
        "fault": fault,
        "outcome": outcome,
        "calls": {key: int(value) for key, value in sorted((calls or {}).items()) if value},
        "max_in_flight": max_in_flight,
        "limit": limit,
        "test": os.environ.get("PYTEST_CURRENT_TEST", "").split(" ")[0],
    }
    with Path(target).open("a", encoding="utf-8") as out:
        out.write(json.dumps(line, ensure_ascii=False) + "\n")
