"""The dependency rule of DESIGN section 1, checked on the AST of every module.

tui -> engine -> (amc, store) -> domain, errors, settings.  Nothing below ``tui``
imports textual; nothing but ``__main__`` imports ``cli``.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "amc_tui"

# What each layer may NOT import (prefixes of module names).
FORBIDDEN: dict[str, tuple[str, ...]] = {
    "amc_tui.domain": ("amc_tui.amc", "amc_tui.store", "amc_tui.engine", "amc_tui.tui"),
    "amc_tui.errors": ("amc_tui.",),
    "amc_tui.settings": ("amc_tui.amc", "amc_tui.store", "amc_tui.engine", "amc_tui.tui"),
    "amc_tui.amc": ("amc_tui.store", "amc_tui.engine", "amc_tui.tui"),
    "amc_tui.store": ("amc_tui.amc", "amc_tui.engine", "amc_tui.tui"),
    "amc_tui.engine": ("amc_tui.tui",),
}


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def imports_of(path: Path, name: str | None = None) -> set[str]:
    """Every module ``path`` imports, relative imports made absolute."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: set[str] = set()
    name = name or module_name(path)
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                found.add(".".join([*base, node.module] if node.module else base))
            elif node.module:
                found.add(node.module)
                found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


MODULES = sorted(PACKAGE.rglob("*.py"))


def test_the_package_has_modules() -> None:
    names = {module_name(p) for p in MODULES}
    assert {"amc_tui.cli", "amc_tui.domain", "amc_tui.amc.client"} <= names


@pytest.mark.parametrize("path", MODULES, ids=lambda p: module_name(p))
def test_layer_rules(path: Path) -> None:
    name = module_name(path)
    imported = imports_of(path)
    if not name.startswith("amc_tui.tui"):
        bad = sorted(m for m in imported if m == "textual" or m.startswith("textual."))
        assert not bad, f"{name} imports textual ({bad}); only amc_tui.tui may"
    if name != "amc_tui.__main__":
        assert "amc_tui.cli" not in imported, f"{name} imports amc_tui.cli"
    for layer, forbidden in FORBIDDEN.items():
        if name == layer or name.startswith(layer + "."):
            bad = sorted(m for m in imported if m.startswith(forbidden) and not m.startswith(layer))
            assert not bad, f"{name} imports {bad}, against the layer rule"


def test_the_checker_sees_violations(tmp_path: Path) -> None:
    fake = tmp_path / "x.py"
    fake.write_text(
        "from textual.app import App\nimport amc_tui.cli\nfrom ..tui import app\n"
        "if True:\n    import textual\n"
    )
    found = imports_of(fake, "amc_tui.engine.x")
    assert {"textual.app", "amc_tui.cli", "amc_tui.tui", "textual"} <= found
