"""DownloadStatus: where one execution's result download stands, in a few lines.

Waiting for AMC to publish; downloading (file i of n, bytes of the file's size, bytes
so far, and a :class:`~textual.widgets.ProgressBar`, indeterminate while the size is
unknown); downloaded (data files, total size, the folder with the home as ``~``);
failed (the short message in red, and the key that tries again); or, read-only, what
the store says is on disk.  Text is Rich ``Text``, never markup.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import ProgressBar, Static

from amc_tui.engine.download_progress import DownloadPhase, DownloadUpdate
from amc_tui.engine.result_files import LocalFile
from amc_tui.export import home_relative
from amc_tui.results_output import human_bytes
from amc_tui.store.results import FileKind, ResultSet, ResultStatus

ASKING = "↓ Asking AMC for the result files…"


def downloaded_text(files: Sequence[LocalFile], directory: Path) -> Text:
    """``2 data files and metadata, 3.4 MB, in ~/…/amc123`` (green tick first)."""
    data = [f for f in files if f.kind is FileKind.DATA]
    metadata = len(files) - len(data)
    parts = f"{len(data)} data file{'s' if len(data) != 1 else ''}"
    if metadata:
        parts += " and metadata"
    text = Text("✔ Downloaded: ", style="green")
    size = human_bytes(sum(f.size for f in files))
    text.append(f"{parts}, {size}, in {home_relative(directory)}")
    return text


def progress_text(update: DownloadUpdate) -> Text:
    """``Downloading file 1 of 2: 1.5 MB of 3.0 MB`` (and the bytes so far, if more)."""
    if update.phase is DownloadPhase.WAITING:
        return Text("◔ Waiting for AMC to publish the results…", style="cyan")
    if update.phase is DownloadPhase.STOPPED:
        return Text("‖ The download stopped; r downloads the rest", style="yellow")
    if update.file == 0:
        return Text(ASKING, style="cyan")
    of = f" of {update.files}" if update.files else ""
    text = Text(f"↓ Downloading file {update.file}{of}: ", style="cyan")
    text.append(f"{human_bytes(update.file_bytes)} of {human_bytes(update.file_size)}")
    if update.bytes_done > update.file_bytes:
        text.append(f" ({human_bytes(update.bytes_done)} in all so far)", style="dim")
    return text


class DownloadStatus(Vertical):
    """The "Result" section of the execution detail (see the module docstring)."""

    def compose(self) -> ComposeResult:
        yield Static(Text("Result", style="bold"), classes="result-title")
        yield Static("", id="result-status")
        yield ProgressBar(total=None, show_eta=False, id="result-bar")

    def on_mount(self) -> None:
        self.bar.display = False

    @property
    def bar(self) -> ProgressBar:
        return self.query_one("#result-bar", ProgressBar)

    @property
    def text(self) -> str:
        """The status line as plain text (what the operator reads)."""
        return str(self.query_one("#result-status", Static).render())

    def _say(self, text: Text, *, bar: bool = False) -> None:
        self.query_one("#result-status", Static).update(text)
        self.bar.display = bar

    def show_starting(self) -> None:
        self._say(Text(ASKING, style="cyan"))

    def show_update(self, update: DownloadUpdate) -> None:
        """A downloader update on the way (waiting, downloading, stopped)."""
        downloading = update.phase is DownloadPhase.DOWNLOADING and update.file > 0
        self._say(progress_text(update), bar=downloading)
        if downloading:
            size = update.file_size
            self.bar.update(total=size, progress=update.file_bytes if size else 0)

    def show_downloaded(self, files: Sequence[LocalFile], directory: Path) -> None:
        self._say(downloaded_text(files, directory))

    def show_failed(self, message: str, *, retry_key: str | None = "r") -> None:
        text = Text(f"✘ Download failed: {message}", style="red")
        if retry_key:
            text.append(f"  ({retry_key}: try again)", style="default")
        self._say(text)

    def show_on_disk(
        self, files: Sequence[LocalFile], results: ResultSet | None, directory: Path
    ) -> None:
        """Read-only: what the store records (nothing is downloaded here)."""
        if files and results is not None and results.status is ResultStatus.DOWNLOADED:
            self.show_downloaded(files, directory)
        elif results is not None and results.status is ResultStatus.FAILED:
            self.show_failed(results.error_message or "unknown error", retry_key=None)
        elif files:
            self._say(Text(f"Partly downloaded ({len(files)} files) in {home_relative(directory)}"))
        else:
            self._say(Text("Not downloaded (read-only: nothing is fetched)", style="dim"))
