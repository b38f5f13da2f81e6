"""Locate Debian's Chromium and the flags it needs on CI.

Why not ``playwright install``: it downloads a browser build, and CI machines reach
only the package registries. The Python ``playwright`` package drives the Debian
``chromium`` binary instead, via ``executable_path=chromium_path()``.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

__all__ = ["chromium_path", "launch_args", "playwright_launch_kwargs"]

# Checked in order; the env var lets a developer point at another Chromium build.
_CANDIDATES = ("/usr/bin/chromium", "/usr/bin/chromium-browser")

# Why each flag:
#   --headless=new                   the real browser in headless mode (same layout as headed)
#   --no-sandbox                     CI runs as root, where Chromium's sandbox refuses to start
#   --disable-gpu                    no GPU on these machines
#   --disable-quic, --disable-background-networking, --disable-component-update, --disable-sync,
#   --no-first-run                   stop Chromium phoning Google: the network is closed, and
#                                    refused connections otherwise pile up at every start
#   --disable-dev-shm-usage          containers often have a tiny /dev/shm; use /tmp instead
_LAUNCH_ARGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
)


def chromium_path() -> str | None:
    """Return the Chromium executable to drive, or ``None`` when none is installed.

    ``TONGBAN_CHROMIUM`` overrides the search (it must name an executable file).
    """
    override = os.environ.get("TONGBAN_CHROMIUM")
    if override:
        return override if os.access(override, os.X_OK) else None
    for candidate in _CANDIDATES:
        if Path(candidate).is_file() and os.access(candidate, os.X_OK):
            return candidate
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    return None


def launch_args(user_data_dir: str | os.PathLike[str] | None = None) -> list[str]:
    """Command-line flags for a headless Chromium on CI (a fresh list each call).

    Pass ``user_data_dir`` when starting ``chromium`` directly (e.g. ``--screenshot``);
    Playwright makes its own temporary profile, so leave it out there.
    """
    args = list(_LAUNCH_ARGS)
    if user_data_dir is not None:
        args.append(f"--user-data-dir={os.fspath(user_data_dir)}")
    return args


def playwright_launch_kwargs() -> dict[str, object]:
    """Keyword arguments for ``playwright.chromium.launch(**kwargs)``.

    Raises ``RuntimeError`` when Chromium is missing, naming the fix, so a browser
    test fails with a useful message rather than Playwright's "run playwright install".
    """
    path = chromium_path()
    if path is None:
        raise RuntimeError("Chromium not found: run scripts/system-deps (apt-get install chromium)")
    return {"executable_path": path, "headless": True, "args": launch_args()}
