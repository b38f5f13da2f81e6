"""A progress bar for long commands: drawn on a terminal, silent when output is piped or in CI."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import TextIO

#: The one progress interface of long work (an import, an index build): `progress(stage, done,
#: total)`, called often and cheaply. Stages of an import: reading, checking:<section>,
#: comparing:<section>, writing:<section>, indexing. `ProgressBar` draws it on a terminal; the staff
#: import's job (`api.services.import_jobs.JobProgress`) keeps it in the database for any worker.
Progress = Callable[[str, int, int], None]


class ProgressBar:
    def __init__(self, label: str, stream: TextIO | None = None, width: int = 30) -> None:
        self.stream = stream or sys.stderr
        self.enabled = self.stream.isatty()
        self.label = label
        self.width = width
        self._last = 0.0

    def __call__(self, stage: str, done: int, total: int) -> None:
        if not self.enabled or total <= 0:
            return
        now = time.monotonic()
        if done < total and now - self._last < 0.05:
            return
        self._last = now
        filled = int(self.width * done / total)
        bar = "█" * filled + "·" * (self.width - filled)
        self.stream.write(f"\r{self.label} {stage:<12} {bar} {done}/{total}")
        if done >= total:
            self.stream.write("\n")
        self.stream.flush()

    def done(self) -> None:
        if self.enabled:
            self.stream.write("\r" + " " * (len(self.label) + self.width + 30) + "\r")
            self.stream.flush()
