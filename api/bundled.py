"""The data files that ship inside the package: the national regions and the demo document.

Why a module: `tongban init` must work from an installed wheel on a fresh machine, so the files are
package data in `api/data/` and are located relative to this module, never through the shared data
folder the team built them from (`tools/build_demo.py` does that, offline, outside the package). See
`api/data/SOURCES.md` for where every record comes from and which ones are illustrative (`sample: true`).
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any, TypedDict

DATA_DIR: Path = Path(__file__).resolve().parent / "data"


class RegionRow(TypedDict):
    """One row of `regions.csv`: a GB/T 2260-shaped administrative division (or a Taizhou town)."""

    code: str
    name: str
    level: str  # PROVINCE | CITY | COUNTY | TOWN
    parent_code: str | None


def regions_path() -> Path:
    """`regions.csv`: 31 provinces, the real cities, every county, and the towns of 台州市."""
    return DATA_DIR / "regions.csv"


def demo_path() -> Path:
    """`demo.json`: the demo document in the (extended) import format."""
    return DATA_DIR / "demo.json"


def iter_regions() -> Iterator[RegionRow]:
    """Regions in code order, so every parent comes before its children (safe for FK-checked inserts)."""
    with regions_path().open(encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh):
            yield RegionRow(
                code=row["code"], name=row["name"], level=row["level"], parent_code=row["parent_code"] or None
            )


@cache
def _demo_text() -> str:
    return demo_path().read_text(encoding="utf-8")


def demo_document() -> dict[str, Any]:
    """The parsed demo document; a fresh copy on every call, so callers may mutate it freely."""
    document: dict[str, Any] = json.loads(_demo_text())
    return document
