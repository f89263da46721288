"""ScreenNews: tells the app's screens which rows of a batch changed (BatchUpdated).

A screen that can be seen (on top, or under see-through screens such as a dialog) is
told at once.  A screen hidden under another full screen is not: Textual repaints the
whole screen on top each time a screen under it handles a message, so telling it
twenty times a second while a batch runs cost a full repaint each time.  What it
missed is kept, per batch, and told in one message when it is shown again, the end
of a batch included: a hidden screen that reacts to the end (the instances screen
reads every instance's latest result again, the history its rows) does so once it
can be seen, not at the moment the batch ends under the operator's eyes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from textual.app import App
from textual.screen import Screen

from amc_tui.tui.messages import BatchUpdated


def is_visible(app: App[Any], screen: Screen[object]) -> bool:
    """Whether ``screen`` can be seen: on top, or under see-through screens only."""
    stack = app.screen_stack
    if screen not in stack:
        return False
    above = stack[stack.index(screen) + 1 :]
    return all(other.styles.background.a < 1 for other in above)


class ScreenNews:
    """See the module docstring; :meth:`screen_changed` is for ``screen_change_signal``."""

    def __init__(self, app: App[Any]) -> None:
        self.app = app
        self._unseen: dict[Screen[object], dict[str, _Missed]] = {}

    def tell(self, batch_id: str, execution_ids: frozenset[int], finished: bool) -> None:
        """Tell the screens (see the module docstring) that these rows changed."""
        for screen in self.app.screen_stack:
            if is_visible(self.app, screen):
                missed = self._unseen.get(screen, {}).pop(batch_id, _Missed())
                ids = frozenset(execution_ids | missed.ids)
                screen.post_message(BatchUpdated(batch_id, ids, finished or missed.finished))
            else:
                missed = self._unseen.setdefault(screen, {}).setdefault(batch_id, _Missed())
                missed.ids.update(execution_ids)
                missed.finished = missed.finished or finished

    def screen_changed(self, _screen: Screen[object]) -> None:
        """Tell the screens shown again what they missed while hidden."""
        stack = self.app.screen_stack
        for screen in list(self._unseen):
            if screen not in stack:
                del self._unseen[screen]
            elif is_visible(self.app, screen):
                for batch_id, missed in self._unseen.pop(screen).items():
                    if missed.ids or missed.finished:
                        update = BatchUpdated(batch_id, frozenset(missed.ids), missed.finished)
                        screen.post_message(update)


@dataclass
class _Missed:
    """What a hidden screen missed of one batch."""

    ids: set[int] = field(default_factory=set)
    finished: bool = False
