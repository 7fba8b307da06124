"""``bench params``: trainable parameters of every preset against the paper's and the official code's counts."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import Any

import keras

import reszoo
from reszoo.bench.machine import machine_info
from reszoo.bench.tables import MATCH_MARKS, fmt, format_table
from reszoo.cli import UsageError


def params_rows(skip_slow: bool = False, families: Sequence[str] | None = None) -> list[dict[str, Any]]:
    """Ours vs published vs exact for every preset (``match`` is None when the paper gives no count)."""
    rows = []
    for name, preset in reszoo.presets().items():
        if (skip_slow and preset.slow) or (families and preset.family not in families):
            continue
        ours = reszoo.trainable_params(reszoo.build(name))
        keras.backend.clear_session()
        rows.append(
            {
                "family": preset.family,
                "preset": name,
                "ours": ours,
                "published_m": preset.published,
                "exact": preset.exact,
                "match": params_match(ours, preset.published, preset.exact),
                "paper": preset.paper,
                "notes": preset.notes,
            }
        )
    return rows


def params_match(ours: int, published: float | None, exact: int | None) -> bool | None:
    """Equal to the exact count when there is one, else equal to the published count at its printed precision."""
    if exact is not None:
        return ours == exact
    if published is None:
        return None
    text = repr(float(published))
    digits = len(text.split(".")[1]) if "." in text else 0
    return round(ours / 1e6, digits) == round(float(published), digits)


def check_families(families: Sequence[str] | None) -> None:
    """Refuse ``--family`` names that are not registered families, listing the known ones."""
    known = reszoo.list_models()
    unknown = sorted(set(families or ()) - set(known))
    if unknown:
        raise UsageError(f"Unknown family {', '.join(unknown)} for --family. Known: {', '.join(known)}.")


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Every preset's (or the ``--family`` presets') trainable count against the papers."""
    check_families(args.family)
    return {
        "command": "params",
        "skip_slow": args.skip_slow,
        "families": args.family,
        "rows": params_rows(args.skip_slow, args.family),
        "machine": machine_info(),
    }


def render(result: dict[str, Any], markdown: bool = False) -> str:
    headers = ["family", "preset", "ours (trainable)", "published (M)", "exact", "match"]
    rows = [
        [
            r["family"],
            r["preset"],
            f"{r['ours']:,}",
            fmt(r["published_m"]),
            fmt(r["exact"], ","),
            MATCH_MARKS[r["match"]],
        ]
        for r in result["rows"]
    ]
    return format_table(headers, rows, markdown)
