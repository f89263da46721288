"""The Textual terminal UI: the only part of amc-tui that imports textual.

:class:`~amc_tui.tui.app.AmcApp` owns the store, the AMC client and the same
:class:`~amc_tui.engine.runner.BatchRunner` the command line uses; screens live in
:mod:`amc_tui.tui.screens`, one module each.  Importing this package imports nothing
heavy: the command line loads :mod:`amc_tui.tui.app` only when the TUI starts.
"""
