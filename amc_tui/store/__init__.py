"""The history store: the only code that touches SQLite.

:class:`HistoryStore` (in :mod:`amc_tui.store.history`) is the whole public face;
:class:`InstanceRecord` is what :meth:`HistoryStore.upsert_instances` takes.  Both
are loaded when first asked for, so that importing one of the package's plain
modules (``amc-tui history`` reads through :mod:`amc_tui.store.opening` and
:mod:`amc_tui.store.summaries`) loads neither asyncio nor pydantic.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from amc_tui.store.history import HistoryStore
    from amc_tui.store.instances import InstanceRecord

__all__ = ["HistoryStore", "InstanceRecord"]


def __getattr__(name: str) -> Any:
    """``HistoryStore`` and ``InstanceRecord``, imported on first use."""
    if name == "HistoryStore":
        from amc_tui.store.history import HistoryStore

        return HistoryStore
    if name == "InstanceRecord":
        from amc_tui.store.instances import InstanceRecord

        return InstanceRecord
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
