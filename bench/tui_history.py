"""How fast the TUI's history screen opens on a big history.

    python bench/tui_history.py [--batches 5000] [--executions 20]

Fills a throwaway history with BATCHES batches of EXECUTIONS executions each, then runs
the real app read-only (it opens on the history) headless at 80x24 and prints the time
from start to the first page of rows on screen, and to the 200th row after one move to
the bottom (the second page, loaded lazily).
"""

from __future__ import annotations

import argparse
import asyncio
import sqlite3
import tempfile
import time
import uuid
from datetime import timedelta
from pathlib import Path

from amc_tui.domain import Batch, Execution, QuerySpec, utc_now
from amc_tui.settings import ensure_data_dir, load_settings
from amc_tui.store.history import HistoryStore
from amc_tui.tui.app import AmcApp


async def fill(path: Path, batches: int, executions: int) -> None:
    start = utc_now() - timedelta(days=batches)
    async with await HistoryStore.open(path) as store:
        for n in range(batches):
            batch = Batch(
                name=f"batch {n}",
                query=QuerySpec(sql="SELECT 1"),
                created_at=start + timedelta(minutes=n),
            )
            batch.executions = [
                Execution(
                    batch_id=batch.id,
                    instance_uuid=uuid.uuid4(),
                    instance_id=f"amc{i:04d}",
                    instance_name=f"instance {i}",
                )
                for i in range(executions)
            ]
            await store.create_batch(batch)
    # A history of finished batches (one left unfinished would be recovered at start).
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE batches SET status = 'completed', finished_at = created_at")
        conn.execute("UPDATE executions SET status = 'SUCCEEDED'")


async def main(batches: int, executions: int) -> None:
    with tempfile.TemporaryDirectory() as scratch:
        config = Path(scratch) / "config.toml"
        config.write_text("")
        settings = load_settings(config=config, data_dir=Path(scratch) / "data", demo=True, env={})
        ensure_data_dir(settings.paths)
        await fill(settings.paths.history_db, batches, executions)
        app = AmcApp(settings, read_only=True)
        began = time.perf_counter()
        async with app.run_test(size=(80, 24)) as pilot:
            table = None
            while table is None or table.row_count == 0:
                await pilot.pause(0.005)
                found = app.screen.query("#history-table")
                table = found.first() if found else None
            first = time.perf_counter() - began
            first_rows = table.row_count
            mark = time.perf_counter()
            await pilot.press("ctrl+end")
            while table.row_count < min(200, batches):
                await pilot.pause(0.005)
            second = time.perf_counter() - mark
        print(f"history of {batches} batches x {executions} executions:")
        print(f"  first page on screen {first * 1000:.0f} ms after start ({first_rows} rows)")
        print(f"  second page {second * 1000:.0f} ms after moving to the bottom")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=5000)
    parser.add_argument("--executions", type=int, default=20)
    args = parser.parse_args()
    asyncio.run(main(args.batches, args.executions))
