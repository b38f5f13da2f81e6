"""SearchIndex: build, swap, update and search the matter index.

Concurrency model (why it is safe):

* Writes (``rebuild``, ``apply_changes``) are serialised in-process by a lock, and
  across processes by Whoosh's write lock. That lock is an OS ``flock``: the kernel
  drops it when its holder dies, so a lock *file* left by a killed process never blocks,
  and we never delete lock files (deleting one another live process holds would break
  mutual exclusion). A live holder is waited for ``writer_timeout`` seconds, then
  :class:`IndexBusyError` is raised; the caller retries later (the outbox keeps the work).
* Searches share one searcher per index generation. Each search takes a reference; a
  searcher replaced after a commit or a swap is closed only when its last search ends, so
  a refresh never pulls files from under a running query.
* The applied outbox id is stored in the index, in a bookkeeping document written in the
  same commit as the changes it covers: the id can never claim more than is indexed.
  A crash between the database commit and the index commit just means re-applying, which
  is idempotent (upsert/delete by matter code, and ids at or below the stored one are
  skipped).
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import math
import shutil
import threading
import time
from array import array
from collections import OrderedDict, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from whoosh import index as windex
from whoosh.index import LockError
from whoosh.searching import Searcher

from search_index import analysis, store
from search_index.query import PostingsCache, build_plan, execute, highlight, sanitize_query
from search_index.schema import META_CODE, build_schema, document_fields, meta_fields

#: Whoosh's sort pool for a rebuild. Its default (128 MB) spills 20,000 matters to disk in runs
#: and merges them; a command-line rebuild passes a larger pool (measured at 20,000 matters on
#: this 2-core machine: 29 s → 17 s for the Whoosh part with 1024 MB), a server keeps the default.
DEFAULT_POOL_MB = 128

log = logging.getLogger(__name__)

__all__ = ["Hit", "IndexBusyError", "SearchIndex"]

Change = tuple[int, str, Mapping[str, Any] | None]


@dataclass(frozen=True, slots=True)
class Hit:
    """One search result: the matter code, its relevance score, and an HTML-safe
    highlight (escaped text with ``<mark>`` around matched words) or None."""

    code: str
    score: float
    highlight: str | None


class Answer:
    """The matters for one question, best first, before highlighting.

    A results page ranks 50 hits (covered matters first) and shows 10; after scoring, the
    highlight (the stored text read back and the matched words marked) was most of what a hit
    cost, so an answer makes it on demand, for the hits shown, and remembers it. The text is read
    from the index as it is when asked: after a commit in between, the matter's current text.
    """

    __slots__ = ("_docnums", "_highlights", "_index", "_masks", "_serial", "_terms", "codes", "scores")

    def __init__(
        self,
        index: SearchIndex,
        serial: int,
        hits: Sequence[tuple[str, float, int, int]],
        terms: tuple[tuple[str, str], ...],
    ) -> None:
        # (code, score, docnum, bit mask of `terms` the document matched) per hit, kept column-wise:
        # 2,048 remembered answers of 50 hits took 14 MB as tuples, 6 MB like this
        self.codes: tuple[str, ...] = tuple(h[0] for h in hits)
        self.scores = array("d", (h[1] for h in hits))
        self._docnums = array("q", (h[2] for h in hits))
        self._masks = tuple(h[3] for h in hits)
        self._index = index
        self._serial = serial  # the searcher the docnums belong to
        self._terms = terms
        self._highlights: dict[str, str | None] = {}

    def __len__(self) -> int:
        return len(self.codes)

    def scored(self) -> list[tuple[str, float]]:
        """(code, score) for every hit, best first."""
        return list(zip(self.codes, self.scores, strict=True))

    def highlights(self, codes: Iterable[str]) -> dict[str, str | None]:
        """The highlight of each of these hits (None for a code not among them)."""
        codes = list(codes)
        wanted = {code for code in codes if code not in self._highlights}
        if wanted:
            hits = [
                (code, docnum, mask)
                for code, docnum, mask in zip(self.codes, self._docnums, self._masks, strict=True)
                if code in wanted
            ]
            self._highlights.update(self._index._highlight(self, hits))  # noqa: SLF001 - our own SearchIndex (same module), not a library
        return {code: self._highlights.get(code) for code in codes}

    def terms_of(self, mask: int) -> set[tuple[str, str]]:
        return {term for bit, term in enumerate(self._terms) if mask >> bit & 1}


class IndexBusyError(RuntimeError):
    """Another live writer held the index longer than ``writer_timeout``."""


#: segments an index may have before a commit merges them into one (see apply_changes)
MAX_SEGMENTS = 8

#: answers remembered per searcher (a question's hits, at most 100 each, ~5 KB for the 50 of a
#: results page): the popular questions (社保卡, 公积金, 户口迁移) are asked again and again and
#: their answer only changes with a commit
RESULTS_CACHED = 2048

_serials = itertools.count(1)

#: how long a search trusts that the index on disk has not changed under it (see `_acquire`)
RECHECK_SECONDS = 0.25


#: scored postings kept per searcher (~90 bytes each): at least 200,000, more on a large index,
#: whose broad words have longer lists (20,000 matters: with 200,000 the 336 bench questions
#: evicted each other's postings, CPU p95 ~12 ms; with 400,000 ~7 ms, for ~18 MB)
POSTINGS_BUDGET_MIN = 200_000
POSTINGS_BUDGET_MAX = 400_000
POSTINGS_PER_DOCUMENT = 20


def postings_budget(searcher: Searcher) -> int:
    try:
        documents = int(searcher.doc_count_all())
    except Exception:  # noqa: BLE001 - a closed or odd searcher: the floor
        documents = 0
    return max(POSTINGS_BUDGET_MIN, min(POSTINGS_BUDGET_MAX, documents * POSTINGS_PER_DOCUMENT))


class _Handle:
    """A searcher plus the number of searches using it (closed when retired and idle), and what
    was computed from it: postings and answers, valid exactly as long as the searcher is."""

    __slots__ = ("codes", "postings", "refs", "results", "results_lock", "retired", "searcher", "serial")

    def __init__(self, searcher: Searcher) -> None:
        self.searcher = searcher
        self.serial = next(_serials)
        self.refs = 0
        self.retired = False
        self.postings = PostingsCache(postings_budget(searcher))
        self.results: OrderedDict[tuple[str, int], Answer] = OrderedDict()
        self.results_lock = threading.Lock()
        self.codes: dict[int, str] = {}  # docnum → matter code, read once from the stored fields

    def code_of(self, docnum: int) -> str:
        code = self.codes.get(docnum)
        if code is None:
            code = self.codes[docnum] = self.searcher.reader().stored_fields(docnum).get("code") or ""
        return code

    def cached(self, key: tuple[str, int]) -> Answer | None:
        with self.results_lock:
            hits = self.results.get(key)
            if hits is not None:
                self.results.move_to_end(key)
            return hits

    def remember(self, key: tuple[str, int], answer: Answer) -> None:
        with self.results_lock:
            self.results[key] = answer
            while len(self.results) > RESULTS_CACHED:
                self.results.popitem(last=False)


class _Generation:
    __slots__ = ("handle", "ix", "name", "path")

    def __init__(self, name: str, path: Path, ix: windex.Index) -> None:
        self.name = name
        self.path = path
        self.ix = ix
        self.handle = _Handle(ix.searcher())


class GroupedPostings:
    """The posting pool of an in-memory rebuild: postings grouped by (field, term) as they come.

    Whoosh's writer collects every posting ``(field, term, docnum, weight, value)`` in a pool and
    sorts them all at commit. One writer adding documents in docnum order produces each term's
    postings already in docnum order, and a document has one posting per term and field, so
    sorting only the terms gives the same sequence: measured on the 20,044-matter set (1,988,933
    postings, 45,440 terms), 2.78 -> 1.28 s of CPU, the same order (checked posting by
    posting). Only for a fresh index written by one writer (:meth:`SearchIndex.rebuild`): a
    writer that merges segments adds postings in another order. Installed as the writer's
    ``pool`` (Whoosh's ``SegmentWriter`` ignores its ``poolclass`` argument); the interface is
    what the writer calls: ``add``, ``iter_postings``, ``cleanup``.
    """

    def __init__(self) -> None:
        self._terms: defaultdict[tuple[str, bytes], list[tuple[Any, ...]]] = defaultdict(list)

    def add(self, item: tuple[Any, ...]) -> None:
        self._terms[item[0], item[1]].append(item)

    def iter_postings(self) -> Iterable[tuple[Any, ...]]:
        terms = self._terms
        for key in sorted(terms):
            yield from terms[key]

    def cleanup(self) -> None:
        self._terms.clear()


class SearchIndex:
    """The search index of published matters, kept in ``index_dir``.

    ``extra_synonyms`` are staff-maintained groups (``[["老年卡", "敬老卡"], ...]``) merged
    with the bundled ``synonyms.txt``; each group is an equivalence group. Safe to share
    between threads; several processes may share one ``index_dir``.
    """

    def __init__(
        self,
        index_dir: Path | str,
        extra_synonyms: Sequence[Sequence[str]] | None = None,
        *,
        writer_timeout: float = 10.0,
    ) -> None:
        self._dir = Path(index_dir)
        self._writer_timeout = writer_timeout
        extra = [list(g) for g in (extra_synonyms or []) if isinstance(g, (list, tuple))]
        self._synonyms = analysis.load_synonyms().merged(extra)
        analysis.add_words(w for g in extra for w in g if isinstance(w, str))
        self._lexicon = self._synonyms.pinyin_lexicon()
        analysis.split_syllables("warm")  # load the syllable table now, not in a query
        self._write_lock = threading.RLock()
        self._state_lock = threading.Lock()
        self._gen: _Generation | None = None
        self._pointer_key: tuple[int, int, int] | None = None
        self._failed = False  # the pointer's generation could not be opened
        self._checked_at = -math.inf  # when the pointer and the searcher were last checked

    # -- reading ---------------------------------------------------------------------

    def _open_current(self) -> None:
        """(state lock held) Follow the pointer to a new generation if it moved."""
        key = store.pointer_key(self._dir)
        if key == self._pointer_key and (self._gen is not None or key is None or self._failed):
            return
        self._failed = False
        name = store.read_pointer(self._dir)
        if name is None:
            self._retire_generation()
            self._pointer_key = key
            return
        if self._gen is not None and self._gen.name == name:
            self._pointer_key = key
            return
        path = self._dir / name
        try:
            ix = windex.open_dir(str(path))
            gen = _Generation(name, path, ix)
        except Exception:
            # keep serving the old generation (if any); retry when the pointer moves again
            log.exception("search index generation %s cannot be opened", path)
            self._pointer_key = key
            self._failed = True
            return
        self._retire_generation()
        self._gen = gen
        self._pointer_key = key

    def _retire_generation(self) -> None:
        if self._gen is not None:
            self._retire(self._gen.handle)
            self._gen = None

    def _retire(self, handle: _Handle) -> None:
        handle.retired = True
        if handle.refs == 0:
            with contextlib.suppress(Exception):
                handle.searcher.close()  # type: ignore[no-untyped-call]  # unannotated in whoosh3

    def _acquire(self, check_commits: bool = True) -> _Handle | None:
        with self._state_lock:
            # Another process's commit or swap shows within RECHECK_SECONDS (this instance's own
            # writes at once: `_after_write`). Looking every time cost a stat of the pointer and a
            # listing of the folder on every search, twice per results page.
            now = time.monotonic()
            due = self._gen is None or now - self._checked_at >= RECHECK_SECONDS
            if due:
                self._open_current()
            gen = self._gen
            if gen is None:
                return None
            if check_commits and due:
                self._checked_at = now
                try:
                    fresh = gen.handle.searcher.up_to_date()  # type: ignore[no-untyped-call]  # unannotated in whoosh3
                except OSError:
                    fresh = True  # folder vanished (removed by another process); pointer moves next
                if not fresh:
                    try:
                        handle = _Handle(gen.ix.searcher())
                    except Exception:
                        log.exception("search index refresh failed; serving the previous searcher")
                    else:
                        self._retire(gen.handle)
                        gen.handle = handle
            handle = gen.handle
            handle.refs += 1
            return handle

    def _release(self, handle: _Handle) -> None:
        with self._state_lock:
            handle.refs -= 1
            if handle.retired and handle.refs == 0:
                with contextlib.suppress(Exception):
                    handle.searcher.close()  # type: ignore[no-untyped-call]  # unannotated in whoosh3

    def is_ready(self) -> bool:
        """True when a complete index generation is available for searching."""
        handle = self._acquire(check_commits=False)
        if handle is None:
            return False
        self._release(handle)
        return True

    def serial(self) -> int:
        """Which searcher answers now (a new one with every commit this process sees; 0 without an
        index): part of a results page's ETag (web.caching)."""
        handle = self._acquire()
        if handle is None:
            return 0
        try:
            return handle.serial
        finally:
            self._release(handle)

    def last_applied_id(self) -> int:
        """The highest outbox id reflected in the index (0 when there is no index)."""
        handle = self._acquire()
        if handle is None:
            return 0
        try:
            return _applied_id(handle.searcher)
        finally:
            self._release(handle)

    def doc_count(self) -> int:
        """Number of matters in the index."""
        handle = self._acquire()
        if handle is None:
            return 0
        try:
            s = handle.searcher
            meta = s.document_number(code=META_CODE)
            return s.doc_count() - (1 if meta is not None else 0)
        finally:
            self._release(handle)

    def search(self, text: str, limit: int = 10) -> list[Hit]:
        """Matters for a citizen's free text, best first, highlighted. Never raises for any input.

        The text is sanitised (:func:`sanitize_query`) and never parsed as a query
        language; an empty or unusable text gives ``[]``.
        """
        answer = self.find(text, limit)
        if answer is None:
            return []
        marked = answer.highlights(answer.codes)
        return [Hit(code=code, score=score, highlight=marked[code]) for code, score in answer.scored()]

    def find(self, text: str, limit: int = 10) -> Answer | None:
        """:meth:`search` without the highlights (ask the answer for those you show); None when
        nothing matches or the text is unusable. Never raises for any input."""
        try:
            return self._find(text, limit)
        except Exception:
            log.exception("search failed for %r", text[:100] if isinstance(text, str) else text)
            return None

    def _find(self, text: str, limit: int) -> Answer | None:
        clean = sanitize_query(text)
        if not clean:
            return None
        limit = max(1, min(int(limit), 100))
        handle = self._acquire()
        if handle is None:
            return None
        try:
            key = (clean, limit)
            known = handle.cached(key)
            if known is not None:
                return known if len(known) else None
            plan = build_plan(clean, self._synonyms, self._lexicon)
            found = [] if plan is None else execute(handle.searcher, plan, limit + 1, handle.postings)
            terms: dict[tuple[str, str], int] = {}
            hits: list[tuple[str, float, int, int]] = []
            for scored in found:
                code = handle.code_of(scored.docnum)
                if not code or code == META_CODE:
                    continue
                mask = 0
                for term in scored.terms:
                    mask |= 1 << terms.setdefault(term, len(terms))
                hits.append((code, round(scored.score, 4), scored.docnum, mask))
                if len(hits) >= limit:
                    break
            answer = Answer(self, handle.serial, hits, tuple(terms))
            handle.remember(key, answer)
            return answer if hits else None
        finally:
            self._release(handle)

    def _highlight(self, answer: Answer, hits: Sequence[tuple[str, int, int]]) -> dict[str, str | None]:
        """(for `Answer`) The highlights of `hits`, read from the current searcher: by docnum when it
        is the one that answered, else by code (a commit in between may have moved the document)."""
        made: dict[str, str | None] = {code: None for code, _docnum, _mask in hits}
        handle = self._acquire(check_commits=False)
        if handle is None:
            return made
        try:
            searcher = handle.searcher
            same = handle.serial == answer._serial  # noqa: SLF001 - our own Answer (same module), not a library
            for code, docnum, mask in hits:
                number = docnum if same else searcher.document_number(code=code)
                if number is None:
                    continue
                stored = searcher.reader().stored_fields(number)  # (what Searcher copies at run time)
                if stored.get("code") == code:
                    made[code] = highlight(stored, answer.terms_of(mask))
        except Exception:
            log.exception("highlighting failed")
        finally:
            self._release(handle)
        return made

    # -- writing ---------------------------------------------------------------------

    def _writer(self, ix: windex.Index, **options: Any) -> Any:
        try:
            return ix.writer(timeout=self._writer_timeout, delay=0.05, **options)
        except LockError as exc:
            raise IndexBusyError(
                f"search index {self._dir} is locked by another writer (waited {self._writer_timeout}s)"
            ) from exc

    def rebuild(
        self, documents: Iterable[Mapping[str, Any]], applied_id: int, pool_mb: int = DEFAULT_POOL_MB
    ) -> None:
        """Index ``documents`` into a new generation and switch to it atomically.

        ``applied_id`` is the outbox high-water mark read in the same database snapshot
        as ``documents``; changes with a higher id are applied afterwards by
        :meth:`apply_changes`. Searches keep using the old generation until the swap.
        A document with a repeated code replaces the earlier one.
        """
        fields: dict[str, dict[str, Any]] = {}
        with analysis.bulk_analysis():
            for f in (document_fields(doc) for doc in documents):
                fields[f["code"]] = f
        with self._write_lock:
            self._dir.mkdir(parents=True, exist_ok=True)
            folder = store.new_generation(self._dir)
            try:
                # a caller that gives the sort more memory (the CLI) gets the faster build
                in_memory = pool_mb > DEFAULT_POOL_MB
                ix = store.create_index(folder, build_schema(), in_memory=in_memory)
                writer = self._writer(ix, limitmb=pool_mb)
                if in_memory:  # a bounded pool spills to disk instead; this one holds all
                    writer.pool = GroupedPostings()
                try:
                    for f in fields.values():
                        writer.add_document(**f)
                    writer.add_document(**meta_fields(applied_id))
                except BaseException:
                    writer.cancel()
                    raise
                # one writer makes one segment: nothing to merge, so no optimize pass
                writer.commit()
                store.save_index(ix, folder)
                store.write_pointer(self._dir, folder.name)
            except BaseException:
                shutil.rmtree(folder, ignore_errors=True)
                raise
            store.cleanup(self._dir)
        self._after_write()

    def apply_changes(
        self, changes: Iterable[Change], applied_id: int | None = None, *, more_follow: bool = False
    ) -> int:
        """Apply outbox changes ``(outbox_id, code, document | None)``; None deletes.

        ``more_follow``: the caller has further batches to apply at once (an import's catch-up), so
        the segments are not merged yet: that is done once, by the last batch.

        Changes with an id at or below :meth:`last_applied_id` are skipped, so replaying
        is harmless; the last change per code wins. The new high-water mark -- the highest
        change id, or ``applied_id`` when that is higher (outbox rows that do not touch
        the index, such as hall edits, still move the mark) -- is stored in the same
        commit. Returns the last applied id. Creates an empty index first if there is
        none (call :meth:`rebuild` for a complete one). Raises :class:`IndexBusyError` if
        another writer holds the index too long, and ValueError for a malformed change
        (before anything is written).
        """
        if applied_id is not None and (isinstance(applied_id, bool) or not isinstance(applied_id, int)):
            raise ValueError(f"applied_id must be an int, got {applied_id!r}")
        prepared: list[tuple[int, str, dict[str, Any] | None]] = []
        for change in changes:
            outbox_id, code, doc = change
            if isinstance(outbox_id, bool) or not isinstance(outbox_id, int):
                raise ValueError(f"outbox id must be an int, got {outbox_id!r}")
            if not isinstance(code, str) or not code or code == META_CODE:
                raise ValueError(f"outbox {outbox_id}: bad matter code {code!r}")
            prepared.append(
                (outbox_id, code, None if doc is None else document_fields({**doc, "code": code}))
            )
        prepared.sort(key=lambda c: c[0])
        with self._write_lock:
            if store.read_pointer(self._dir) is None:
                self.rebuild([], 0)
            name = store.read_pointer(self._dir)
            assert name is not None
            ix: windex.Index = windex.open_dir(str(self._dir / name))  # (its close() is typed on Index)
            try:
                writer = self._writer(ix)
                try:
                    last = _applied_id(writer.searcher())
                    pending = [c for c in prepared if c[0] > last]
                    new_last = max([c[0] for c in pending] + [applied_id or 0, last])
                    if new_last == last:
                        writer.cancel()
                        return last
                    latest: dict[str, dict[str, Any] | None] = {}
                    for _oid, code, f in pending:
                        latest[code] = f
                    for code, f in latest.items():
                        if f is None:
                            writer.delete_by_term("code", code)
                        else:
                            writer.update_document(**f)
                    writer.update_document(**meta_fields(new_last))
                except BaseException:
                    writer.cancel()
                    raise
                # Each commit adds a segment, and Whoosh's merge policy leaves many after an import
                # applied in batches (15 after 5,000 matters); a search then looks every term up in
                # each. Past MAX_SEGMENTS the last batch's commit merges them into one (a few seconds
                # at 5,000 matters; bench queries over cold postings: mean 5.1 -> 3.0 ms).
                writer.commit(optimize=not more_follow and len(writer.segments) >= MAX_SEGMENTS)
            finally:
                ix.close()
        self._after_write()
        return new_last

    def _after_write(self) -> None:
        """Make this instance's searches see its own write immediately."""
        self._checked_at = -math.inf
        handle = self._acquire()
        if handle is not None:
            self._release(handle)

    def close(self) -> None:
        """Release open files. The object stays usable: the next call reopens lazily."""
        with self._state_lock:
            self._retire_generation()
            self._pointer_key = None
            self._failed = False
            self._checked_at = -math.inf


def _applied_id(searcher: Searcher) -> int:
    doc = searcher.document(code=META_CODE)
    if not doc:
        return 0
    value = doc.get("applied_id")
    return int(value) if isinstance(value, int) else 0
