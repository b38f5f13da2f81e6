"""Full-text search over published matters (Whoosh + jieba + pinyin + synonyms).

Public API (everything else in this package is internal)::

    idx = SearchIndex(Path("var/index"), extra_synonyms=[["老年卡", "敬老卡"]])
    idx.rebuild(documents, applied_id=outbox_high_water_mark)   # new folder + atomic swap
    idx.apply_changes([(outbox_id, code, document_or_None), ...], applied_id=None)
                                  # idempotent upsert/delete; applied_id moves the mark past
                                  # outbox rows that do not touch the index
    idx.last_applied_id()        # catch up from the outbox with ids above this
    idx.search("社保卡丢了", limit=10)  # -> [Hit(code, score, highlight), ...]
    idx.doc_count(); idx.is_ready(); idx.close()
    sanitize_query(text)          # the cleaning applied to public input

A document is a plain dict: ``code``, ``name``, ``aliases``, ``keywords``,
``department``, ``scope``, ``guide_text``. ``Hit.highlight`` is HTML-safe: matched words
are wrapped in ``<mark>`` and everything else is escaped.
"""

from __future__ import annotations

from search_index.index import Hit, IndexBusyError, SearchIndex
from search_index.query import MAX_QUERY_CHARS, sanitize_query

__all__ = ["MAX_QUERY_CHARS", "Hit", "IndexBusyError", "SearchIndex", "sanitize_query"]
