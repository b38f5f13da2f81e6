"""requirements.lock is the environment CI and every checkout install (scripts/bootstrap, --require-hashes).

It must agree with pyproject.toml: every exact pin there appears in the lock at the same version, and
every locked line carries hashes. A pin changed without regenerating the lock fails here, fast, with
the fix in the message (run scripts/lock). Pure file parsing: no network, no database.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _check_lock():
    spec = importlib.util.spec_from_file_location("check_lock", ROOT / "scripts" / "check_lock.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("check_lock", module)
    spec.loader.exec_module(module)
    return module


check_lock = _check_lock()


def test_lock_agrees_with_pyproject_pins() -> None:
    found = check_lock.problems(ROOT)
    assert not found, (
        "pyproject.toml and requirements.lock disagree:\n  " + "\n  ".join(found) + (f"\n{check_lock.FIX}")
    )


def test_every_direct_dependency_is_pinned() -> None:
    pins, unpinned = check_lock.pyproject_pins(ROOT / "pyproject.toml")
    assert not unpinned, f"pin these exactly (name==version) in pyproject.toml: {unpinned}"
    # The libraries the code imports directly (not only through another package) are pinned themselves.
    for name in ("graphql-core", "cross-web", "markupsafe", "strawberry-graphql", "whoosh3", "jieba"):
        assert name in pins, f"{name} is imported directly but not pinned in pyproject.toml"


_PYPROJECT = """\
[project]
name = "x"
version = "0"
dependencies = ["Foo_Bar[extra]==1.0", "baz==2.0  ; python_version >= '3.11'"]
[project.optional-dependencies]
test = ["qux==3.0"]
"""
_LOCK = """\
# comment
foo-bar==1.0 \\
    --hash=sha256:aa
    # via x
baz==2.0 ; python_version >= '3.11' \\
    --hash=sha256:bb
qux==3.0 \\
    --hash=sha256:cc
"""


@pytest.mark.parametrize(
    ("pyproject", "lock", "expected"),
    [
        (_PYPROJECT, _LOCK, []),
        (
            _PYPROJECT.replace("qux==3.0", "qux==3.1"),
            _LOCK,
            ["qux==3.1 is pinned in pyproject.toml but requirements.lock has 3.0"],
        ),
        (
            _PYPROJECT.replace('"qux==3.0"', '"qux==3.0", "new==1"'),
            _LOCK,
            ["new==1 is pinned in pyproject.toml but missing from requirements.lock"],
        ),
        (
            _PYPROJECT.replace("qux==3.0", "qux>=3.0"),
            _LOCK,
            ["pyproject.toml: 'qux>=3.0' is not pinned exactly (name==version)"],
        ),
        (
            _PYPROJECT,
            _LOCK.replace("qux==3.0 \\\n    --hash=sha256:cc", "qux==3.0"),
            ["requirements.lock: qux==3.0 has no --hash"],
        ),
    ],
    ids=["agree", "version-differs", "missing-from-lock", "unpinned", "no-hash"],
)
def test_checker_finds_each_kind_of_disagreement(
    tmp_path: Path, pyproject: str, lock: str, expected: list[str]
) -> None:
    (tmp_path / "pyproject.toml").write_text(pyproject, encoding="utf-8")
    (tmp_path / "requirements.lock").write_text(lock, encoding="utf-8")
    assert check_lock.problems(tmp_path) == expected


def test_missing_lock_is_a_problem(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(_PYPROJECT, encoding="utf-8")
    assert check_lock.problems(tmp_path) == ["requirements.lock is missing"]
