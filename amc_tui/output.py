"""Rendering results for the headless commands: aligned text tables and JSON.

Human output is plain text (no markup, no colour codes unless a later issue adds
them for terminals); ``--json`` output is one JSON document on stdout.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

from amc_tui.domain import Instance


def table(headers: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    """Left-aligned columns separated by two spaces, headers first."""
    materialised = [list(map(str, row)) for row in rows]
    widths = [len(h) for h in headers]
    for row in materialised:
        widths = [max(w, len(cell)) for w, cell in zip(widths, row, strict=True)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip()]
    lines += [
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
        for row in materialised
    ]
    return "\n".join(lines)


def instance_json(instance: Instance) -> dict[str, Any]:
    return {
        "instance_id": instance.instance_id,
        "instance_uuid": str(instance.uuid),
        "instance_name": instance.name,
        "instance_type": instance.instance_type.value,
        "region": instance.region,
    }


def instances_table(instances: Sequence[Instance]) -> str:
    return table(
        ("NAME", "AMC INSTANCE ID", "TYPE", "REGION", "UUID"),
        ((i.name, i.instance_id, i.instance_type.value, i.region, str(i.uuid)) for i in instances),
    )


def dumps(document: Any) -> str:
    return json.dumps(document, indent=2, ensure_ascii=False)
