"""Does requirements.lock agree with pyproject.toml's pins? (stdlib only; run before the venv exists)

Every exact pin (``name==version``) in ``[project].dependencies`` and in the ``test`` extra must appear
in requirements.lock at the same version, and the lock must carry a hash for every line. Used by
scripts/bootstrap (it refuses to install from a stale lock) and by tests/test_lock.py.

    python3 scripts/check_lock.py      # exit 0 when they agree, 1 (with the differences) otherwise
"""

from __future__ import annotations

import re
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FIX = "run scripts/lock to regenerate requirements.lock (then scripts/bootstrap)"

_PIN = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:\[[^\]]*\])?\s*==\s*([^\s;,]+)\s*(?:;.*)?$")
_LOCKED = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?==([^\s;\\]+)")


def normalize(name: str) -> str:
    """PEP 503 name: case and runs of ``-_.`` do not matter."""
    return re.sub(r"[-_.]+", "-", name).lower()


def pyproject_pins(path: Path = ROOT / "pyproject.toml") -> tuple[dict[str, str], list[str]]:
    """(pins, unpinned): ``{normalized name: version}`` and the requirements that are not ``==``."""
    project = tomllib.loads(path.read_text(encoding="utf-8"))["project"]
    reqs = list(project.get("dependencies", [])) + list(
        project.get("optional-dependencies", {}).get("test", [])
    )
    pins: dict[str, str] = {}
    unpinned: list[str] = []
    for req in reqs:
        m = _PIN.match(req)
        if m:
            pins[normalize(m.group(1))] = m.group(2)
        else:
            unpinned.append(req)
    return pins, unpinned


def lock_pins(path: Path = ROOT / "requirements.lock") -> tuple[dict[str, set[str]], list[str]]:
    """(pins, unhashed): ``{normalized name: versions}`` (a universal lock may list one package twice,
    under different markers) and the locked requirements that carry no ``--hash``."""
    pins: dict[str, set[str]] = {}
    unhashed: list[str] = []
    # Join backslash continuations so each requirement is one logical line.
    for line in path.read_text(encoding="utf-8").replace("\\\n", " ").splitlines():
        line = line.strip()
        if not line or line.startswith("#") or line.startswith("-"):
            continue
        m = _LOCKED.match(line)
        if not m:
            unhashed.append(line)  # not name==version: pip --require-hashes would refuse it too
            continue
        pins.setdefault(normalize(m.group(1)), set()).add(m.group(2))
        if "--hash=" not in line:
            unhashed.append(line.split()[0])
    return pins, unhashed


def problems(root: Path = ROOT) -> list[str]:
    lock_path = root / "requirements.lock"
    if not lock_path.is_file():
        return [f"{lock_path.name} is missing"]
    wanted, unpinned = pyproject_pins(root / "pyproject.toml")
    locked, unhashed = lock_pins(lock_path)
    out = [f"pyproject.toml: {req!r} is not pinned exactly (name==version)" for req in unpinned]
    for name, version in sorted(wanted.items()):
        have = locked.get(name)
        if not have:
            out.append(f"{name}=={version} is pinned in pyproject.toml but missing from requirements.lock")
        elif have != {version}:
            out.append(
                f"{name}=={version} is pinned in pyproject.toml but requirements.lock has "
                + ", ".join(sorted(have))
            )
    out += [f"requirements.lock: {req} has no --hash" for req in unhashed]
    return out


def main() -> int:
    found = problems()
    if not found:
        return 0
    print("pyproject.toml and requirements.lock disagree:", file=sys.stderr)
    for p in found:
        print(f"  - {p}", file=sys.stderr)
    print(FIX, file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
