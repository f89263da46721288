"""The terminal's output when the terminal goes away (amc_tui.tui.terminal).

Textual's writer thread ends on the first failed write; the app's next writes then
fill its queue and block, and the app hangs instead of leaving after an SSH drop.
Through TerminalOutput, the thread outlives the terminal and the app can exit.
"""

from __future__ import annotations

import errno
import io
import threading
from pathlib import Path

import pytest
from textual.drivers._writer_thread import MAX_QUEUED_WRITES, WriterThread
from tui_support import make_app

from amc_tui.tui.terminal import SafeLinuxDriver, TerminalOutput


class DeadTerminal(io.StringIO):
    """A terminal that takes ``good`` writes, then fails every one with EIO."""

    def __init__(self, good: int) -> None:
        super().__init__()
        self.good = good
        self.writes = 0

    def write(self, text: str) -> int:
        self.writes += 1
        if self.writes > self.good:
            raise OSError(errno.EIO, "Input/output error")
        return super().write(text)


def _writes_then_stops(file: object, count: int, timeout: float = 20.0) -> bool:
    """Whether a WriterThread on ``file`` takes ``count`` writes and stops, in time."""
    writer = WriterThread(file)  # type: ignore[arg-type]
    writer.start()

    def produce() -> None:
        for n in range(count):
            writer.write(f"frame {n}\n")
        writer.stop()

    producer = threading.Thread(target=produce, daemon=True)
    producer.start()
    producer.join(timeout=timeout)
    return not producer.is_alive()


def test_the_writer_keeps_going_after_the_terminal_has_gone() -> None:
    terminal = DeadTerminal(good=3)
    output = TerminalOutput(terminal)
    assert _writes_then_stops(output, MAX_QUEUED_WRITES * 4)
    assert isinstance(output.gone, OSError) and output.gone.errno == errno.EIO
    assert terminal.getvalue() == "frame 0\nframe 1\nframe 2\n"
    assert terminal.writes == 4  # once gone, nothing more is tried


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
def test_without_it_the_writer_dies_and_the_next_writes_block() -> None:
    # The hang TerminalOutput prevents: the same dead terminal, written to directly.
    # (The producer stays blocked for good, so a short wait shows it.)
    assert not _writes_then_stops(DeadTerminal(good=3), MAX_QUEUED_WRITES * 4, timeout=2.0)


def test_a_live_terminal_gets_every_write() -> None:
    terminal = io.StringIO()
    output = TerminalOutput(terminal)
    assert _writes_then_stops(output, 100)
    assert output.gone is None
    assert terminal.getvalue() == "".join(f"frame {n}\n" for n in range(100))


def test_a_closed_file_counts_as_gone() -> None:
    terminal = io.StringIO()
    output = TerminalOutput(terminal)
    terminal.close()
    assert output.write("x") == 1
    output.flush()
    assert isinstance(output.gone, ValueError)


def test_the_app_draws_through_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TEXTUAL_DRIVER", raising=False)
    app = make_app(tmp_path)
    assert app.driver_class is SafeLinuxDriver
