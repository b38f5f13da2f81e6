"""Shared plumbing of the staff pages: rendering inside the staff layout, region pickers and
region lookup by code or name, and the uniform handling of a service's answer to a form
(field errors → 400/422 with the input kept; a stale version → 409 with both versions shown)."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from api import rules
from api.enums import Role
from api.services.base import SHANGHAI, BadInput, Conflict, Forbidden, NotFound, ServiceError
from api.state import AppState, state_of
from web import regions
from web.staff.diff import side_by_side
from web.staff.forms import apply_errors
from web.staff.session import CsrfOnly, Staff, make_form
from web.templating import render

T = TypeVar("T")
R = TypeVar("R")

_CODE = re.compile(r"^\d{6}(?:\d{3})?$")


def state(request: Request) -> AppState:
    return state_of(request)


def local_time(value: dt.datetime | None) -> str:
    """A stored timestamp as Asia/Shanghai "2025年5月3日 14:05" (SQLite hands back naive UTC)."""
    if value is None:
        return ""
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    local = value.astimezone(SHANGHAI)
    return f"{local.year}年{local.month}月{local.day}日 {local:%H:%M}"


def page(
    request: Request,
    staff: Staff | None,
    template: str,
    context: dict[str, Any] | None = None,
    *,
    status: int = 200,
    nav: str = "",
) -> Response:
    base: dict[str, Any] = {
        "staff": staff,
        "staff_nav": nav,
        "nav_current": "staff",
        "title": "工作台",
        "logout_form": None,
        "local_time": local_time,
    }
    if staff is not None:
        base["logout_form"] = make_form(request, CsrfOnly)
    base.update(context or {})
    return render(request, template, base, status_code=status, headers={"Cache-Control": "no-store"})


def record_form(
    request: Request,
    staff: Staff,
    form: Any,
    *,
    title: str,
    sections: Any,
    action: str,
    back: str,
    nav: str,
    history: tuple[str, str] | None = None,
    general: list[str] | None = None,
    status: int = 200,
    conflict: Any = None,
    **extra: Any,
) -> Response:
    """A record's new or edit page (staff/record_form.html): its sections of fields with the service's
    errors next to them, what no field shows above the form, a stale save side by side (`conflict`)."""
    context = {
        "title": title,
        "form": form,
        "sections": sections,
        "action": action,
        "back": back,
        "history": history,
        "general": general or [],
        "conflict": conflict,
    }
    return page(request, staff, "staff/record_form.html", {**context, **extra}, status=status, nav=nav)


def see_other(url: str) -> Response:
    """After a successful POST: 303 to the record, so a reload never submits twice."""
    return RedirectResponse(url, status_code=303)


# ------------------------------------------------------------------ regions


def county_choices(
    staff: Staff, *, include_city: bool = False, only_own: bool = False
) -> list[tuple[str, str]]:
    """The home city's counties (a county account: only its own when `only_own`)."""
    tree = staff.catalog.tree
    home = staff.catalog.home_city
    counties = tree.local_counties(home)
    if only_own and staff.role == Role.COUNTY:
        counties = tuple(c for c in counties if c == staff.region_code)
    choices = [(c, tree.name(c)) for c in counties]
    if include_city and (staff.role == Role.ADMIN or not only_own):
        choices.insert(0, (home, f"{tree.name(home)}(市本级)"))
    return choices


def matter_choices(staff: Staff, scope: str | None = "CROSS_PROVINCE") -> list[tuple[str, str]]:
    """The catalogue's matters as (code, label) choices, of one scope (None: all)."""
    matters = staff.catalog.matters.values()
    return [
        (m.code, f"{m.name}({m.code})")
        for m in sorted(matters, key=lambda m: m.code)
        if scope is None or m.scope == scope
    ]


def local_place_choices(staff: Staff) -> list[tuple[str, str]]:
    """Where a hall may stand: the city (admins), counties and their towns (a county: its own)."""
    tree = staff.catalog.tree
    choices: list[tuple[str, str]] = []
    for code, name in county_choices(staff, include_city=True, only_own=True):
        choices.append((code, name))
        if code != staff.catalog.home_city:
            choices += [(t, f"{name} · {tree.name(t)}") for t in tree.children(code)]
    return choices


@dataclass(frozen=True)
class RegionLookup:
    code: str | None
    candidates: tuple[tuple[str, str], ...] = ()
    problem: str | None = None


async def lookup_region(tree: rules.RegionTree, text: str | None) -> RegionLookup:
    """A region typed as a code or a (full) name; several matches → candidates to choose from."""
    value = (text or "").strip()[:40]
    if not value:
        return RegionLookup(None)
    if _CODE.match(value):
        if value in tree:
            return RegionLookup(value)
        return RegionLookup(None, (), f"没有代码为 {value} 的行政区划")
    exact = [
        p.code for p in tree if p.level != "TOWN" and (p.name == value or tree.full_name(p.code) == value)
    ]
    if len(exact) == 1:
        return RegionLookup(exact[0])
    suggestions = (await regions.pinyin_index(tree)).suggest(value, limit=12)
    found = [(e.code, e.full_name) for e in suggestions]
    if exact:
        found = [(c, tree.full_name(c)) for c in exact] + [f for f in found if f[0] not in exact]
    if len(found) == 1:
        return RegionLookup(found[0][0])
    if not found:
        return RegionLookup(None, (), f"没有找到名为“{value}”的地区, 请输入6位行政区划代码")
    return RegionLookup(None, tuple(found[:12]), f"“{value}”对应多个地区, 请选择或直接输入代码")


def region_name(tree: rules.RegionTree, code: str | None) -> str:
    if not code:
        return ""
    return tree.full_name(code) if code in tree else code


# ------------------------------------------------------------------ service answers


@dataclass
class Outcome:
    """What a form handler shows after a failed save: the status, the messages above the form, the
    two versions side by side after a stale save, and the record as it is now stored (`fresh`)."""

    status: int
    general: list[str]
    conflict: list[tuple[str, str, str, bool]] | None = None
    fresh: Any = None

    @property
    def shown(self) -> dict[str, Any]:
        """The keyword arguments of a record module's form renderer."""
        return {"general": self.general, "status": self.status, "conflict": self.conflict}


async def fetch(request: Request, model: type[T], ident: Any) -> T | None:
    """One row by primary key in its own read transaction (a stale save's fresh copy)."""
    async with state(request).db.read() as session:
        return await session.get(model, ident)


async def save_form(
    request: Request,
    form: Any,
    save: Callable[[AsyncSession], Awaitable[R]],
    *,
    record: str,
    mine: Mapping[str, Any] | Callable[[dict[str, Any]], Mapping[str, Any]] = MappingProxyType({}),
    reload: Callable[[], Awaitable[Any]] | None = None,
    tree: Any = None,
    leave_out: tuple[str, ...] = (),
    refuse: type[ServiceError] = BadInput,
    failure: Callable[[Any, ServiceError], list[str]] | None = None,
) -> tuple[R | None, Outcome | None]:
    """The save step of every record's new and edit page: `save(session)` in one write transaction.

    Returns (what `save` returned, None), or (None, what to show) when the service refused: a stale
    version (409) reloads the record (`reload`), moves the form's version on and lays the stored
    version (less `leave_out`) beside what the form says (`mine`: a dict, or made from the stored
    version); a refusal of type `refuse` (400/422) puts the field errors next to their fields and
    the rest above the form (`failure`, default `form_failure`). The form keeps what was typed.
    Forbidden is never shown on the form: it goes on to the 403 page.
    """
    try:
        async with state(request).db.write() as session:
            return await save(session), None
    except Conflict as error:
        current = {k: v for k, v in (error.current or {}).items() if k not in leave_out}
        fresh = await reload() if reload is not None else None
        if hasattr(form, "version"):
            form.version.data = str(fresh.version if fresh is not None else "")
        typed = mine(current) if callable(mine) else mine
        rows = side_by_side(current, dict(typed), tree, record)
        return None, Outcome(409, [error.message], rows, fresh)
    except Forbidden:
        raise
    except refuse as error:
        return None, Outcome(error_status(error), (failure or form_failure)(form, error))


def message_and_fields(form: Any, error: ServiceError) -> list[str]:
    """The service's message always above the form, then what no field shows (the handbook's pages)."""
    return [error.message, *apply_errors(form, error.fields)]


def error_status(error: ServiceError) -> int:
    """400 for a request the form cannot express (unknown record, bad reference), 422 for field errors."""
    if error.code == "CONFLICT":
        return 409
    if error.code == "FORBIDDEN":
        return 403
    return 422 if error.fields else 400


def form_value(formdata: Any, name: str) -> str:
    value = formdata.get(name) if formdata is not None else None
    return str(value).strip() if value is not None else ""


def int_or_none(value: Any) -> int | None:
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        return None


def path_id(request: Request, name: str = "id") -> int:
    """The record id in the path (a positive integer), or 404."""
    value = int_or_none(request.path_params.get(name))
    if value is None or value < 1:
        raise NotFound("没有这条记录")
    return value


def form_failure(form: Any, error: ServiceError) -> list[str]:
    """Put a service's field errors next to their fields; what is left is shown above the form."""
    general = apply_errors(form, error.fields)
    if not error.fields or general:
        general.insert(0, error.message)
    return general
