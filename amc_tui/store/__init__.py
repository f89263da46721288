"""The history store: the only code that touches SQLite.

:class:`HistoryStore` (in :mod:`amc_tui.store.history`) is the whole public face;
:class:`InstanceRecord` is what :meth:`HistoryStore.upsert_instances` takes.
"""

from amc_tui.store.history import HistoryStore
from amc_tui.store.instances import InstanceRecord

__all__ = ["HistoryStore", "InstanceRecord"]
