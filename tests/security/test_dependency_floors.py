"""The installed releases carry the known security fixes (SECURITY.md, issue 7)."""

from __future__ import annotations

from importlib.metadata import version

import pytest

FLOORS = {"strawberry-graphql": (0, 327, 2), "starlette": (0, 49, 1)}


def release(text: str) -> tuple[int, ...]:
    parts = []
    for piece in text.split(".")[:3]:
        digits = "".join(ch for ch in piece if ch.isdigit())
        parts.append(int(digits or 0))
    return tuple(parts)


@pytest.mark.parametrize("package", sorted(FLOORS))
def test_installed_release_is_at_or_above_the_floor(package: str) -> None:
    assert release(version(package)) >= FLOORS[package], f"{package} {version(package)} lacks known fixes"


def test_pins_in_pyproject_respect_the_floors() -> None:
    from pathlib import Path

    text = (Path(__file__).resolve().parents[2] / "pyproject.toml").read_text(encoding="utf-8")
    for package, floor in FLOORS.items():
        line = next(line for line in text.splitlines() if f'"{package}==' in line)
        pinned = line.split("==", 1)[1].split('"', 1)[0]
        assert release(pinned) >= floor, f"pyproject pins {package}=={pinned}"
