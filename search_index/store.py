"""Index folders on disk: generation folders and an atomically swapped pointer.

Layout of ``index_dir``::

    CURRENT          "gen-000007\\n" -- the live generation (replaced with os.replace)
    gen-000006/      the previous generation, kept so a lagging process can still open it
    gen-000007/      a complete Whoosh index; the applied outbox id lives inside it

A rebuild writes a new ``gen-N`` folder completely, fsyncs it, then replaces
``CURRENT``. A crash before the swap leaves an unreferenced folder that is never opened
and is removed later; a crash after it leaves a complete index. ``os.replace`` is atomic
on Linux (and Windows), and a plain pointer file needs no symlink support.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import time
from pathlib import Path

from whoosh import index as windex
from whoosh.fields import Schema
from whoosh.filedb.filestore import FileStorage, RamStorage, copy_storage

POINTER = "CURRENT"
_GEN = re.compile(r"^gen-(\d{6,})$")
#: an unreferenced folder newer than the live one is removed only after this long
#: (it may be another process's rebuild in progress)
ABANDONED_AFTER_S = 3600.0


def generation_number(name: str) -> int | None:
    m = _GEN.match(name)
    return int(m.group(1)) if m else None


def read_pointer(index_dir: Path) -> str | None:
    """The live generation's folder name, or None (no index yet or a bad pointer)."""
    try:
        name = (index_dir / POINTER).read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError):
        return None
    return name if generation_number(name) is not None else None


def pointer_key(index_dir: Path) -> tuple[int, int, int] | None:
    """Cheap change detector for the pointer (a new file has a new inode)."""
    try:
        st = os.stat(index_dir / POINTER)
    except OSError:
        return None
    return (st.st_ino, st.st_mtime_ns, st.st_size)


def new_generation(index_dir: Path) -> Path:
    """Create and return an empty, unused ``gen-N`` folder (mkdir is the atomic claim)."""
    index_dir.mkdir(parents=True, exist_ok=True)
    while True:
        numbers = [generation_number(p.name) or 0 for p in index_dir.iterdir()]
        current = read_pointer(index_dir)
        if current:
            numbers.append(generation_number(current) or 0)
        folder = index_dir / f"gen-{max(numbers, default=0) + 1:06d}"
        try:
            folder.mkdir()
        except FileExistsError:
            continue
        return folder


def _fsync(path: Path, directory: bool = False) -> None:
    flags = os.O_RDONLY | (getattr(os, "O_DIRECTORY", 0) if directory else 0)
    try:
        fd = os.open(path, flags)
    except OSError:
        return
    try:
        with contextlib.suppress(OSError):
            os.fsync(fd)
    finally:
        os.close(fd)


def create_index(folder: Path, schema: Schema, in_memory: bool = False) -> windex.Index:
    """A new, empty Whoosh index for the generation ``folder``; finish it with :func:`save_index`.

    ``in_memory`` builds it in memory and writes the files at the end: faster (Whoosh reads
    back each document's field lengths for every posting it writes), but the index and any
    sort runs that overflow the writer's pool are held in memory until then.
    """
    if in_memory:
        # whoosh3 leaves its storage classes unannotated (no-untyped-call); the index is a FileIndex
        storage = RamStorage()  # type: ignore[no-untyped-call]
        ix: windex.FileIndex = storage.create_index(schema)  # type: ignore[no-untyped-call]
        return ix
    return windex.create_in(str(folder), schema)


def save_index(ix: windex.Index, folder: Path) -> None:
    """Close the committed index ``ix`` made by :func:`create_index` and flush ``folder`` to disk.

    An in-memory index is first written into ``folder`` as it is (the same files).
    """
    if isinstance(ix, windex.FileIndex) and isinstance(ix.storage, RamStorage):
        # (unannotated in whoosh3, as above)
        copy_storage(ix.storage, FileStorage(str(folder)))  # type: ignore[no-untyped-call]
    ix.close()
    fsync_tree(folder)


def fsync_tree(folder: Path) -> None:
    """Flush a finished generation to disk before it is published."""
    for p in folder.iterdir():
        if p.is_file():
            _fsync(p)
    _fsync(folder, directory=True)


def write_pointer(index_dir: Path, name: str) -> None:
    """Atomically point ``CURRENT`` at generation ``name``."""
    tmp = index_dir / f".{POINTER}.{os.getpid()}.{time.monotonic_ns()}.tmp"
    with open(tmp, "w", encoding="ascii") as fh:
        fh.write(name + "\n")
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, index_dir / POINTER)
    _fsync(index_dir, directory=True)


def is_complete(folder: Path) -> bool:
    """True when ``folder`` holds a committed Whoosh index (a TOC file was written)."""
    try:
        return any(p.name.startswith("_MAIN_") and p.name.endswith(".toc") for p in folder.iterdir())
    except OSError:
        return False


def cleanup(index_dir: Path) -> None:
    """Remove generations older than the previous one, abandoned builds and temp files."""
    current = read_pointer(index_dir)
    live = generation_number(current) if current else None
    now = time.time()
    for p in index_dir.iterdir():
        n = generation_number(p.name)
        try:
            age = now - p.stat().st_mtime
        except OSError:
            continue
        if n is None:
            if p.name.startswith(f".{POINTER}.") and p.name.endswith(".tmp") and age > 60:
                with contextlib.suppress(OSError):
                    p.unlink()
            continue
        if live is None or n > live:
            stale = age > ABANDONED_AFTER_S  # possibly another process's build in progress
        elif n < live - 1:
            stale = True
        elif n == live - 1:
            stale = not is_complete(p) and age > ABANDONED_AFTER_S
        else:
            stale = False
        if stale:
            shutil.rmtree(p, ignore_errors=True)
