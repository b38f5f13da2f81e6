"""The public pages' two hooks into the search log (issue 16; api/services/search_log.py).

``record_search`` is called once by the results page (first page only) and returns the search's
token; the results template adds it to each result link as ``s=<token>``. ``record_click`` is
called by the matter page: a visit with ``?s=<token>`` is a click on that search's result. Neither
ever fails a page, and nothing about the visitor is recorded.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from starlette.requests import Request

from api.services.search_log import SearchLog, log_for
from api.state import state_of

log = logging.getLogger("tongban.search_log")

#: the query parameter of a result link that names its search
PARAM = "s"


def _log(request: Request) -> SearchLog:
    return log_for(request.app.state, state_of(request).db)


def record_search(request: Request, text: str, shown: Sequence[str], found: int) -> str | None:
    """Record a search shown on a results page; the token for its result links, or None."""
    try:
        return _log(request).search(text, shown, found)
    except Exception:  # noqa: BLE001 - the log never breaks a page
        log.warning("search not recorded", exc_info=True)
        return None


def record_click(request: Request, code: str) -> None:
    """A matter page opened from a result link (``?s=<token>``)."""
    token = request.query_params.get(PARAM)
    if not token:
        return
    try:
        _log(request).click(token, code)
    except Exception:  # noqa: BLE001
        log.warning("click not recorded", exc_info=True)
