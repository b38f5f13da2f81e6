"""The public needs survey (需求调研): `GET /survey` the form, `POST /survey` an answer, `GET
/survey/thanks`. Plain HTML (works without JavaScript, on a phone, with a screen reader).

Abuse limits, all before anything is stored:
- CSRF like the feedback form (signed double-submit token, `web.csrf`);
- a size cap on the request (`MAX_BODY_BYTES`, 413) and per field (the service's caps, 10 matters);
- a rate limit per client address (`PER_ADDRESS` answers per `WINDOW_SECONDS`) and for the whole
  instance (`OVERALL_PER_MINUTE`), 429 with the answers kept: shared by the workers of one `tongban
  serve` (`SharedSubmissionLimiter`, a file in its run folder, like the request rate limit's
  `api.middleware.SharedBuckets`), so one host has one budget; in this process's memory otherwise;
- no markup, links or personal data stored (the service refuses them with a message), and every
  answer is rendered escaped (Jinja autoescape), never as HTML.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import mmap
import os
import secrets
import struct
import time
from collections import OrderedDict, deque
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from api.enums import Role
from api.services.base import Actor, BadInput
from api.services.surveys import (
    COMMENT_MAX,
    MAX_MATTERS,
    OBSTACLES,
    OTHER_MATTER_MAX,
    RESPONDENTS,
    parse_survey,
    submit_survey,
)
from web import csrf
from web.public import page
from web.templating import render

MAX_BODY_BYTES = 16 * 1024
PER_ADDRESS = 5
WINDOW_SECONDS = 600.0
OVERALL_PER_MINUTE = 120
FIELD_IDS = {
    "respondent": "sv-respondent",
    "homeProvince": "sv-province",
    "homeRegion": "sv-region",
    "matterCodes": "sv-matters",
    "otherMatter": "sv-other",
    "obstacles": "sv-obstacles",
    "comment": "sv-comment",
}


class SubmissionLimiter:
    """Sliding-window limits per address and overall (in memory; bounded number of addresses)."""

    def __init__(
        self,
        per_address: int = PER_ADDRESS,
        window: float = WINDOW_SECONDS,
        overall_per_minute: int = OVERALL_PER_MINUTE,
        max_addresses: int = 20_000,
    ) -> None:
        self.per_address = per_address
        self.window = window
        self.overall_per_minute = overall_per_minute
        self.max_addresses = max_addresses
        self.by_address: OrderedDict[str, deque[float]] = OrderedDict()
        self.overall: deque[float] = deque()

    def _seen(self, address: str, now: float) -> deque[float]:
        while self.overall and self.overall[0] <= now - 60.0:
            self.overall.popleft()
        seen = self.by_address.pop(address, deque())
        while seen and seen[0] <= now - self.window:
            seen.popleft()
        self.by_address[address] = seen
        while len(self.by_address) > self.max_addresses:
            self.by_address.popitem(last=False)
        return seen

    def check(self, address: str, now: float) -> bool:
        """Whether one more answer from `address` is within both limits (records nothing)."""
        seen = self._seen(address, now)
        return len(seen) < self.per_address and len(self.overall) < self.overall_per_minute

    def record(self, address: str, now: float) -> None:
        """Count a stored answer (a refused one, e.g. a typo, does not use up the allowance)."""
        self._seen(address, now).append(now)
        self.overall.append(now)

    def allow(self, address: str, now: float) -> bool:
        allowed = self.check(address, now)
        if allowed:
            self.record(address, now)
        return allowed


class SharedSubmissionLimiter:
    """`SubmissionLimiter`'s sliding windows in a file every worker of one `tongban serve` maps
    (MAP_SHARED), so an address gets `PER_ADDRESS` answers per window from the host, not per worker.

    Layout: a header (a random 16-byte key for the address hash, BLAKE2b keyed as in
    `SharedBuckets`, so nobody can aim two addresses at one slot), the overall ring (one time per
    allowed answer in a minute), then a slot per address hash: the hash and its last `per_address`
    answer times. Times are CLOCK_MONOTONIC (one clock for the host); 0.0 is an empty entry. An
    address landing in a slot another one holds takes it over empty: more lenient, never blocking a
    stranger. Every check and record holds the file's flock for a few microseconds. The file is made
    by `tongban serve` before the workers start (`create`), or by the first worker that finds none."""

    FILE_NAME = "survey.windows"
    SLOTS = 1 << 14
    HEADER = 32

    def __init__(
        self,
        path: Path,
        per_address: int = PER_ADDRESS,
        window: float = WINDOW_SECONDS,
        overall_per_minute: int = OVERALL_PER_MINUTE,
    ) -> None:
        self.per_address = per_address
        self.window = window
        self.overall_per_minute = overall_per_minute
        self._ring = struct.Struct(f"<{overall_per_minute}d")
        self._slot = struct.Struct(f"<Q{per_address}d")
        self._slots_at = self.HEADER + self._ring.size
        size = self._slots_at + self.SLOTS * self._slot.size
        self._fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        fcntl.flock(self._fd, fcntl.LOCK_EX)
        try:
            if os.fstat(self._fd).st_size != size:  # new (or another layout): start empty, new key
                os.ftruncate(self._fd, 0)
                os.ftruncate(self._fd, size)
                os.pwrite(self._fd, secrets.token_bytes(16), 0)
        finally:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
        self._map = mmap.mmap(self._fd, size, mmap.MAP_SHARED)
        self._key = bytes(self._map[:16])

    @classmethod
    def create(cls, path: Path) -> None:
        """(`tongban serve`, before any worker) Start afresh: no counts from an earlier run."""
        path.unlink(missing_ok=True)
        cls(path).close()

    def close(self) -> None:
        self._map.close()
        os.close(self._fd)

    def _offset(self, address: str) -> tuple[int, int]:
        digest = int.from_bytes(
            hashlib.blake2b(address.encode(), key=self._key, digest_size=8).digest(), "little"
        )
        digest |= 1  # 0 marks a slot nobody holds
        return digest, self._slots_at + (digest % self.SLOTS) * self._slot.size

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        fcntl.flock(self._fd, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(self._fd, fcntl.LOCK_UN)

    def _within(self, address: str, now: float) -> bool:
        digest, offset = self._offset(address)
        owner, *times = self._slot.unpack_from(self._map, offset)
        in_window = sum(1 for t in times if t > 0.0 and t > now - self.window) if owner == digest else 0
        overall = self._ring.unpack_from(self._map, self.HEADER)
        in_minute = sum(1 for t in overall if t > 0.0 and t > now - 60.0)
        return in_window < self.per_address and in_minute < self.overall_per_minute

    def _record(self, address: str, now: float) -> None:
        digest, offset = self._offset(address)
        owner, *times = self._slot.unpack_from(self._map, offset)
        if owner != digest:
            times = [0.0] * self.per_address
        times[times.index(min(times))] = now
        self._slot.pack_into(self._map, offset, digest, *times)
        overall = list(self._ring.unpack_from(self._map, self.HEADER))
        overall[overall.index(min(overall))] = now
        self._ring.pack_into(self._map, self.HEADER, *overall)

    def check(self, address: str, now: float) -> bool:
        """Whether one more answer from `address` is within both limits (records nothing)."""
        with self._locked():
            return self._within(address, now)

    def record(self, address: str, now: float) -> None:
        """Count a stored answer: it replaces the oldest time in the address's slot and in the ring."""
        with self._locked():
            self._record(address, now)

    def allow(self, address: str, now: float) -> bool:
        with self._locked():
            allowed = self._within(address, now)
            if allowed:
                self._record(address, now)
        return allowed


def limiter(request: Request) -> SubmissionLimiter | SharedSubmissionLimiter:
    state = request.app.state
    found = getattr(state, "survey_limiter", None)
    if found is None:
        run_dir = state.tongban.settings.run_dir
        if run_dir is not None and run_dir.is_dir():
            found = SharedSubmissionLimiter(run_dir / SharedSubmissionLimiter.FILE_NAME)
        else:
            found = SubmissionLimiter()
        state.survey_limiter = found
    return found


def _catalog_choices(catalog: Any) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    tree = catalog.tree
    provinces = sorted(((p.code, p.name) for p in tree if p.level == "PROVINCE"), key=lambda item: item[0])
    matters = sorted(
        ((m.code, m.name) for m in catalog.matters.values() if m.scope == "CROSS_PROVINCE"),
        key=lambda item: item[0],
    )
    return provinces, matters


async def _form_page(
    request: Request, values: dict[str, Any], errors: dict[str, str], general: str | None, status: int
) -> Response:
    catalog = await request.app.state.tongban.catalog.get()
    provinces, matters = _catalog_choices(catalog)
    home = catalog.tree.name(catalog.home_city)
    return render(
        request,
        "survey.html",
        {
            "title": "跨区域办事需求调查",
            "values": values,
            "errors": errors,
            "general": general,
            "provinces": provinces,
            "matters": matters,
            "respondents": list(RESPONDENTS.items()),
            "obstacles": list(OBSTACLES.items()),
            "max_matters": MAX_MATTERS,
            "other_max": OTHER_MATTER_MAX,
            "comment_max": COMMENT_MAX,
            "field_ids": FIELD_IDS,
            "city": home,
        },
        status_code=status,
        headers={"Cache-Control": "no-store"},
    )


def _empty() -> dict[str, Any]:
    return {
        "respondent": "",
        "homeProvince": "",
        "homeRegion": "",
        "matterCodes": [],
        "otherMatter": "",
        "obstacles": [],
        "comment": "",
    }


@page
async def survey_form(request: Request) -> Response:
    return await _form_page(request, _empty(), {}, None, 200)


def _values(form: Any) -> dict[str, Any]:
    return {
        "respondent": str(form.get("respondent", ""))[:20],
        "homeProvince": str(form.get("homeProvince", ""))[:12],
        "homeRegion": str(form.get("homeRegion", ""))[:200],
        "matterCodes": [str(v)[:40] for v in form.getlist("matterCodes")[:200]],
        "otherMatter": str(form.get("otherMatter", ""))[:2000],
        "obstacles": [str(v)[:20] for v in form.getlist("obstacles")[:50]],
        "comment": str(form.get("comment", ""))[:5000],
    }


@page
async def survey_submit(request: Request) -> Response:
    declared = request.headers.get("content-length", "")
    if (declared.isdigit() and int(declared) > MAX_BODY_BYTES) or len(await request.body()) > MAX_BODY_BYTES:
        return render(
            request, "survey_thanks.html", {"title": "提交内容过长", "too_large": True}, status_code=413
        )
    form = await request.form(max_files=0, max_fields=200)
    values = _values(form)
    if not csrf.verify(request, str(form.get(csrf.FIELD, ""))):
        message = (
            "提交没有成功：请先允许本网站使用 Cookie，再提交一次。"
            if csrf.COOKIE not in request.cookies
            else "提交没有成功：页面停留时间过长或已过期。你填写的内容还在，请再点一次“提交”。"
        )
        return await _form_page(request, values, {}, message, 403)
    address = (request.client.host if request.client else "") or "unknown"
    if not limiter(request).check(address, time.monotonic()):
        response = await _form_page(
            request, values, {}, "提交太频繁了，请过几分钟再提交。你填写的内容还在。", 429
        )
        response.headers["Retry-After"] = str(int(WINDOW_SECONDS // 10))
        return response
    catalog = await request.app.state.tongban.catalog.get()
    _, matters = _catalog_choices(catalog)
    actor = Actor(name="公众", role=Role.PARTNER, region_code=None, via="public")
    ctx = catalog.service_context(actor)
    allowed = {code for code, _ in matters}
    # checked before a write transaction is opened: a flood of bad answers takes no database lock
    _, problems = parse_survey(values, ctx, allowed)
    try:
        if problems:
            raise BadInput("问卷填写有误", problems)
        async with request.app.state.tongban.db.write() as session:
            await submit_survey(session, ctx, values, allowed)
    except BadInput as error:
        errors: dict[str, str] = {}
        for field_error in error.fields:
            name = field_error.field if field_error.field in FIELD_IDS else "comment"
            errors.setdefault(name, field_error.message)
        return await _form_page(request, values, errors, "请按提示修改后再提交。", 400)
    limiter(request).record(address, time.monotonic())
    return RedirectResponse("/survey/thanks", status_code=303)


@page
async def survey_thanks(request: Request) -> Response:
    return render(request, "survey_thanks.html", {"title": "感谢参与调查", "too_large": False})
