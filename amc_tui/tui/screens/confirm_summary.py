"""What the confirm screen's summary says: what will happen, and what to watch out for.

The instances (as many names as fit on one line), how many executions run at once, the
retry policy in words, the time window, the overrides a rerun keeps; then the warnings:
sandbox and standard instances mixed, a large batch, query files left out of the
library, demo mode.  Plain strings: the screen shows them as
:class:`~rich.text.Text`, since instance names come from AMC.
"""

from __future__ import annotations

from collections.abc import Callable

from amc_tui.domain import Instance, InstanceType, TimeWindow, TimeWindowType
from amc_tui.errors import InputError
from amc_tui.settings import EngineSettings
from amc_tui.tui.format import clip
from amc_tui.tui.screens.confirm_form import DEFAULT_WINDOW, WINDOW_CHOICES

LARGE_BATCH = 50


def summary_lines(
    instances: list[Instance], engine: EngineSettings, width: int, window: str, overrides: int
) -> list[str]:
    """The summary for a screen ``width`` columns wide: ``window`` in words
    (:func:`window_text`), ``overrides`` the instances whose parameters a rerun keeps."""
    at_once = min(engine.max_concurrent_executions, len(instances))
    lines = [
        instances_line(instances, max(40, width - 2)),
        f"At most {at_once} at once; " + retry_text(engine),
        f"Time window: {window}",
    ]
    if overrides:
        lines.append(f"Parameter overrides for {overrides} instance(s) kept from before")
    return lines


def instances_line(instances: list[Instance], width: int) -> str:
    """``N instances: a, b (+k more)``, as many names as fit on one line."""
    n = len(instances)
    line = f"{n} instance{'s' if n != 1 else ''}: "
    for shown, instance in enumerate(instances):
        name = clip(instance.name or instance.instance_id, 32)
        more = f" (+{n - shown - 1} more)" if shown < n - 1 else ""
        rest = f" (+{n - shown} more)"
        if shown and len(line) + len(name) + len(more) + 2 > width:
            return line + rest
        line += (", " if shown else "") + name
    return line


def retry_text(engine: EngineSettings) -> str:
    """The retry policy in words: how often, how long between, what is not retried."""
    retries, base = engine.max_retry_attempts, engine.retry_delay_base
    if retries <= 0:
        return "nothing is retried (max_retry_attempts = 0)."
    waits = ", ".join(f"{base * 2**n:.3g}s" for n in range(min(retries, 3)))
    return (
        f"transient errors (throttling, 5xx, timeouts) retried up to {retries} "
        f"time{'s' if retries != 1 else ''}, waiting {waits}{' …' if retries > 3 else ''}; "
        "permanent errors are not retried."
    )


def window_text(choice: str, window: Callable[[], TimeWindow]) -> str:
    """The time window picked (``choice``, a value of the window picker) in words;
    ``window()`` makes the window of the default and explicit choices, or raises
    InputError while an explicit one is not valid yet."""
    if choice not in (DEFAULT_WINDOW, TimeWindowType.EXPLICIT.value):
        label = dict((v, k) for k, v in WINDOW_CHOICES)[choice]
        return f"{label.lower()} (AMC's relative window)"
    try:
        chosen = window()
    except InputError:
        return "explicit start/end, not valid yet"
    assert chosen.start is not None and chosen.end is not None
    text = f"{chosen.start:%Y-%m-%d %H:%M:%S} to {chosen.end:%Y-%m-%d %H:%M:%S}"
    return text + (" (AMC's data lag)" if choice == DEFAULT_WINDOW else "")


def batch_warnings(instances: list[Instance], library_problems: list[str], demo: bool) -> list[str]:
    """``⚠`` lines: sandbox and standard mixed, a large batch, query files left out of
    the library, demo mode."""
    found = []
    sandbox = sum(1 for i in instances if i.instance_type is InstanceType.SANDBOX)
    if 0 < sandbox < len(instances):
        found.append(f"⚠ Sandbox and standard instances mixed ({sandbox} sandbox)")
    if len(instances) > LARGE_BATCH:
        found.append(f"⚠ A large batch: {len(instances)} executions; AMC may throttle")
    if library_problems:
        found.append(f"⚠ {len(library_problems)} query file(s) left out of the library")
    if demo:
        found.append("⚠ Demo: runs on the embedded simulator, not on AMC")
    return found
