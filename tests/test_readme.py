"""The README opens with exactly the two commands, and CI runs the README's test command."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def readme_commands() -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    head = text.split("\n## ", 1)[0]
    return [block.strip() for block in re.findall(r"```sh\n(.*?)```", head, re.S)]


def test_readme_starts_with_two_commands() -> None:
    commands = readme_commands()
    assert len(commands) == 2
    launch, tests = commands
    assert "pip install" in launch and "amc-tui" in launch
    assert "'.[test]'" in tests and tests.endswith("pytest")


def test_ci_runs_the_readme_test_command() -> None:
    script = (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    marker = next(i for i, line in enumerate(script) if "README-TEST-COMMAND" in line)
    assert script[marker + 1].strip() == readme_commands()[1]


def test_every_screenshot_the_readme_shows_exists() -> None:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    shown = re.findall(r"\]\((screenshots/[^)]+\.svg)\)", text)
    assert len(shown) >= 5
    missing = [path for path in shown if not (ROOT / path).is_file()]
    assert not missing, f"run python scripts/screenshots.py: {missing}"
