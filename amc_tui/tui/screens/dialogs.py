"""The small modal dialogs: yes/no, quit with batches running, resume offer, a prompt.

Each is keyboard-first: a letter answers it at once, ``escape`` backs out, and the
buttons are there for ``tab``/``enter`` (and a mouse, if there is one).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, SelectionList, Static

from amc_tui.domain import BatchSummary
from amc_tui.tui.format import clip, local_time
from amc_tui.tui.live import LiveBatch


class ConfirmDialog(ModalScreen[bool]):
    """A yes/no question; ``y`` answers yes, ``n`` or ``escape`` no."""

    # Focused as the screen is composed (``on_mount`` focuses it a moment later, after
    # a first frame with the focus elsewhere, then Textual draws it again).
    AUTO_FOCUS = "#no"
    BINDINGS = [
        Binding("y", "answer(True)", "Yes", id="yes"),
        Binding("n", "answer(False)", "No", id="no"),
        Binding("escape", "answer(False)", "No", show=False),
    ]

    def __init__(self, question: str, *, yes: str = "Yes", no: str = "No") -> None:
        super().__init__()
        self.question = question
        self.yes_label = yes
        self.no_label = no

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(Text(self.question), classes="dialog-text")
            with Horizontal(classes="dialog-buttons"):
                yield Button(f"{self.yes_label} (y)", id="yes", variant="error")
                yield Button(f"{self.no_label} (n)", id="no", variant="primary")

    def on_mount(self) -> None:
        self.query_one("#no", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")

    def action_answer(self, answer: bool) -> None:
        self.dismiss(answer)


class QuitScreen(ModalScreen[str]):
    """Batches are running: cancel them, leave them running on AMC, or stay."""

    AUTO_FOCUS = "#stay"  # as ConfirmDialog's
    BINDINGS = [
        Binding("c", "choose('cancel')", "Cancel batches", id="quit-cancel"),
        Binding("l", "choose('leave')", "Leave running", id="quit-leave"),
        Binding("s,escape", "choose('stay')", "Stay", id="quit-stay"),
    ]

    def __init__(self, running: Sequence[LiveBatch]) -> None:
        super().__init__()
        self.running = list(running)

    def compose(self) -> ComposeResult:
        names = ", ".join(clip(b.name or b.id, 30) for b in self.running[:3])
        more = f" and {len(self.running) - 3} more" if len(self.running) > 3 else ""
        count = len(self.running)
        noun = "batch is" if count == 1 else "batches are"
        with Vertical(classes="dialog"):
            yield Static(
                Text(
                    f"{count} {noun} still running: {names}{more}.\n\n"
                    "Cancel: stop them, cancelling their executions on AMC.\n"
                    "Leave: quit now; AMC keeps running them and you can resume later."
                ),
                classes="dialog-text",
            )
            with Horizontal(classes="dialog-buttons"):
                yield Button("Cancel (c)", id="cancel", variant="error")
                yield Button("Leave (l)", id="leave", variant="warning")
                yield Button("Stay (s)", id="stay", variant="primary")

    def on_mount(self) -> None:
        self.query_one("#stay", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id or "stay")

    def action_choose(self, choice: str) -> None:
        self.dismiss(choice)


class ResumeOfferScreen(ModalScreen[list[str]]):
    """Batches left interrupted: pick which to resume (all are picked at first)."""

    BINDINGS = [
        Binding("r", "resume", "Resume picked", id="resume-picked"),
        Binding("escape", "later", "Not now", id="resume-later"),
    ]

    def __init__(self, batches: Sequence[BatchSummary]) -> None:
        super().__init__()
        self.batches = list(batches)

    def compose(self) -> ComposeResult:
        count = len(self.batches)
        noun = "batch was" if count == 1 else "batches were"
        with Vertical(classes="dialog dialog-wide"):
            yield Static(
                f"{count} {noun} left interrupted (the program ended before they "
                "finished). Resume them? space toggles one.",
                classes="dialog-text",
            )
            yield SelectionList[str](
                *[
                    (
                        Text(
                            f"{b.id}  {clip(b.name or '-', 24)}  {local_time(b.created_at)}  "
                            f"{b.counts.total - b.counts.queued - b.counts.in_flight}/"
                            f"{b.counts.total} done"
                        ),
                        b.id,
                        True,
                    )
                    for b in self.batches
                ],
                id="resume-list",
            )
            with Horizontal(classes="dialog-buttons"):
                yield Button("Resume (r)", id="resume", variant="primary")
                yield Button("Not now (esc)", id="later")

    def on_mount(self) -> None:
        self.query_one(SelectionList).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "resume":
            self.action_resume()
        else:
            self.action_later()

    def action_resume(self) -> None:
        self.dismiss(list(self.query_one(SelectionList).selected))

    def action_later(self) -> None:
        self.dismiss([])


class PromptScreen(ModalScreen[str | None]):
    """Ask for one line of text; ``check`` returns a problem to show, or None if fine."""

    BINDINGS = [Binding("escape", "back", "Back", id="prompt-back")]

    def __init__(
        self,
        question: str,
        *,
        value: str = "",
        placeholder: str = "",
        check: Callable[[str], str | None] | None = None,
    ) -> None:
        super().__init__()
        self.question = question
        self.initial = value
        self.placeholder = placeholder
        self.check = check

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog dialog-wide"):
            yield Label(self.question, classes="dialog-text")
            yield Input(self.initial, placeholder=self.placeholder, id="prompt-input")
            yield Static("", id="prompt-error", classes="field-error")
            yield Static("enter: OK   escape: back", classes="dialog-hint")

    def on_mount(self) -> None:
        self.query_one(Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        value = event.value.strip()
        problem = self.check(value) if self.check is not None else None
        if problem:
            self.query_one("#prompt-error", Static).update(Text(problem))
            return
        self.dismiss(value)

    def action_back(self) -> None:
        self.dismiss(None)
