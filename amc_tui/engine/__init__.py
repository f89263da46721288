"""The engine: what amc-tui does, for the command line and the TUI alike.

It drives the AMC client and the history store; it knows nothing of Textual.
"""
