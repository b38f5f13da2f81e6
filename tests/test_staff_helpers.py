"""Helpers for the staff-area tests (no tests here): accounts, signing in, and reading a form back
out of a page the way a browser would submit it, so tests post exactly what the page offers."""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from html.parser import HTMLParser
from typing import Any

import httpx

from api.db import Database
from api.settings import Settings

PASSWORD = "correct horse battery"
_TOKEN = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')


async def add_staff(settings: Settings, role: str, region: str, name: str | None = None) -> str:
    from api.services.base import SYSTEM
    from api.services.regions import load_tree
    from api.services.users import add_user

    name = name or f"{role}-{region}-{uuid.uuid4().hex[:6]}"
    database = Database(settings.database_url)
    try:
        async with database.write() as session:
            tree = await load_tree(session)
            await add_user(session, SYSTEM, tree, settings.home_region, name, PASSWORD, role, region)
    finally:
        await database.dispose()
    return name


def new_client(app: Any, base_url: str = "http://testserver") -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=base_url)


def csrf_token(html: str) -> str:
    match = _TOKEN.search(html)
    assert match, "no CSRF token on the page"
    return match.group(1)


async def sign_in(client: httpx.AsyncClient, name: str, password: str = PASSWORD) -> httpx.Response:
    page = await client.get("/staff/login")
    assert page.status_code == 200, page.text
    return await client.post(
        "/staff/login",
        data={"name": name, "password": password, "csrf_token": csrf_token(page.text), "next": "/staff/"},
    )


@asynccontextmanager
async def signed_in(app: Any, settings: Settings, role: str, region: str) -> AsyncIterator[httpx.AsyncClient]:
    """A client signed in as a new account of that role and region."""
    async with new_client(app) as client:
        response = await sign_in(client, await add_staff(settings, role, region))
        assert response.status_code == 303, response.text
        yield client


class _FormReader(HTMLParser):
    """The successful controls of the form whose action is `action`, as a browser would send them."""

    def __init__(self, action: str) -> None:
        super().__init__(convert_charrefs=True)
        self.action = action
        self.inside = False
        self.found = False
        self.fields: list[tuple[str, str]] = []
        self._select: str | None = None
        self._select_multiple = False
        self._select_first: str | None = None
        self._select_chosen = False
        self._option: dict[str, str] | None = None
        self._textarea: str | None = None
        self._text = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: (v or "") for k, v in attrs}
        if tag == "form" and a.get("action") == self.action and not self.found:
            self.inside = self.found = True
            return
        if not self.inside:
            return
        name = a.get("name")
        if tag == "input" and name:
            kind = a.get("type", "text")
            if kind in ("checkbox", "radio"):
                if "checked" in a:
                    self.fields.append((name, a.get("value", "on")))
            elif kind not in ("submit", "button", "reset", "file"):
                self.fields.append((name, a.get("value", "")))
        elif tag == "select" and name:
            self._select, self._select_multiple = name, "multiple" in a
            self._select_first, self._select_chosen = None, False
        elif tag == "option" and self._select is not None:
            self._option = a
            value = a.get("value", "")
            if self._select_first is None:
                self._select_first = value
            if "selected" in a:
                self.fields.append((self._select, value))
                self._select_chosen = True
        elif tag == "textarea" and name:
            self._textarea, self._text = name, ""

    def handle_endtag(self, tag: str) -> None:
        if not self.inside:
            return
        if tag == "form":
            self.inside = False
        elif tag == "select" and self._select is not None:
            if not self._select_chosen and not self._select_multiple and self._select_first is not None:
                self.fields.append((self._select, self._select_first))
            self._select = None
        elif tag == "textarea" and self._textarea is not None:
            self.fields.append((self._textarea, self._text.removeprefix("\r").removeprefix("\n")))
            self._textarea = None

    def handle_data(self, data: str) -> None:
        if self._textarea is not None:
            self._text += data


Fields = dict[str, list[str]]


def read_form(html: str, action: str) -> Fields:
    """The form's fields as httpx form data: {name: [values]}."""
    reader = _FormReader(action)
    reader.feed(html)
    assert reader.found, f"no form posting to {action}"
    fields: Fields = {}
    for name, value in reader.fields:
        fields.setdefault(name, []).append(value)
    return fields


def with_values(fields: Fields, **changes: Any) -> Fields:
    """Replace fields (a list for several values; None removes the field)."""
    result = {k: list(v) for k, v in fields.items() if k not in changes}
    for key, value in changes.items():
        if value is not None:
            result[key] = [str(v) for v in value] if isinstance(value, list) else [str(value)]
    return result


async def count(settings: Settings, model: Any, *where: Any) -> int:
    from sqlalchemy import func, select

    database = Database(settings.database_url)
    try:
        async with database.read() as session:
            query = select(func.count()).select_from(model)
            for clause in where:
                query = query.where(clause)
            return int((await session.execute(query)).scalar_one())
    finally:
        await database.dispose()
