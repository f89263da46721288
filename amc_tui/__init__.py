"""amc-tui: run one Amazon Marketing Cloud query on many AMC instances at once."""

__version__ = "0.1.0"
