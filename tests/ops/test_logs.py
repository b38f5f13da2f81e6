"""Log lines (issue 19): JSON lines on request, a request id in every line of a request and in its
response, and never a password, token, session id or citizen's contact. The test drives sign-in
(right and wrong password), token use (right and wrong), a citizen's feedback with contact details
and a staff-filed one through the app with every logger at DEBUG, then greps everything logged."""

from __future__ import annotations

import io
import json
import logging
import re
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from api.db import Database
from api.observability import JsonFormatter, RequestIdFilter, configure_logging
from api.settings import Settings
from tests.test_staff_helpers import csrf_token, new_client, read_form, with_values

PUBLIC_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


class ServerSide(logging.Filter):
    """The server's records: not the test's own HTTP client (httpx logs the URLs it requests)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.name.startswith(("httpx", "httpcore"))


@pytest.fixture
def captured() -> Iterator[io.StringIO]:
    """Every record of every logger at the level the server logs (INFO), formatted as the served
    app formats them (JSON lines)."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(ServerSide())
    handler.addFilter(RequestIdFilter())
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    try:
        yield stream
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


async def add_account(settings: Settings, name: str, password: str) -> None:
    from api.services.base import SYSTEM
    from api.services.regions import load_tree
    from api.services.users import add_token, add_user

    database = Database(settings.database_url)
    try:
        async with database.write() as session:
            tree = await load_tree(session)
            await add_user(
                session, SYSTEM, tree, settings.home_region, name, password, "admin", settings.home_region
            )
            settings.extra["token"] = await add_token(session, SYSTEM, name)
    finally:
        await database.dispose()


async def test_a_whole_journey_logs_no_secret_and_tags_every_request(
    app: Any, settings: Settings, captured: io.StringIO
) -> None:
    password = "pw-" + uuid.uuid4().hex
    wrong = "wrong-" + uuid.uuid4().hex
    phone = "139" + str(uuid.uuid4().int)[:8]
    email = f"citizen-{uuid.uuid4().hex[:10]}@example.cn"
    staff_contact = "186" + str(uuid.uuid4().int)[:8]
    name = "ops-" + uuid.uuid4().hex[:6]
    await add_account(settings, name, password)
    token = settings.extra["token"]
    planted = {
        "password": password,
        "wrong password": wrong,
        "token": token,
        "citizen phone": phone,
        "citizen e-mail": email,
        "contact filed by staff": staff_contact,
    }
    responses: list[httpx.Response] = []

    async with new_client(app) as citizen:
        form_page = await citizen.get("/feedback")
        responses.append(form_page)
        sent = await citizen.post(
            "/feedback",
            data={
                "description": "窗口说要户籍地证明, 我不知道去哪开",
                "contact": f"{phone} {email}",
                "csrf_token": PUBLIC_CSRF.search(form_page.text).group(1),
                "pageUrl": "/",  # type: ignore[union-attr]
            },
        )
        responses.append(sent)
        assert sent.status_code == 303, sent.text
        responses.append(await citizen.get(f"/search?q=社保卡&token={token}&contact={phone}"))
        responses.append(
            await citizen.post(
                "/graphql", json={"query": "{ matter(code: 1) { code } }", "variables": {"x": phone}}
            )
        )

    async with new_client(app) as staff:
        login = await staff.get("/staff/login")
        responses.append(
            await staff.post(
                "/staff/login", data={"name": name, "password": wrong, "csrf_token": csrf_token(login.text)}
            )
        )
        login = await staff.get("/staff/login")
        signed = await staff.post(
            "/staff/login",
            data={
                "name": name,
                "password": password,
                "csrf_token": csrf_token(login.text),
                "next": "/staff/",
            },
        )
        responses.append(signed)
        assert signed.status_code == 303, signed.text
        cookie = staff.cookies.get("tb_staff")
        assert cookie
        planted["session cookie"] = cookie
        planted["session id"] = cookie.split(".")[0]
        new = await staff.get("/staff/feedback/new")
        fields = with_values(
            read_form(new.text, "/staff/feedback/new"), description="来电咨询社保卡", contact=staff_contact
        )
        filed = await staff.post("/staff/feedback/new", data=fields)
        responses.append(filed)
        assert filed.status_code in (303, 200), filed.text

    async with new_client(app) as partner:
        for bearer in (token, "tb_" + uuid.uuid4().hex):
            responses.append(
                await partner.post(
                    "/graphql",
                    headers={"Authorization": f"Bearer {bearer}"},
                    json={
                        "query": 'mutation { setPartnerIndices(regionCode: "000000", populationIndex: 1) { code } }'
                    },
                )
            )
        kept = await partner.get("/healthz", headers={"X-Request-ID": "probe-42.a"})
        replaced = await partner.get("/healthz", headers={"X-Request-ID": "bad id <script>"})

    text = captured.getvalue()
    assert text.count("\n") >= len(responses), "the journey logged nothing"
    leaked = [what for what, value in planted.items() if value and value in text]
    assert not leaked, f"logged: {leaked}"

    lines = [json.loads(line) for line in text.splitlines()]
    ids = {r.headers["x-request-id"] for r in responses}
    assert all(re.fullmatch(r"[0-9a-f]{32}", i) for i in ids) and len(ids) == len(responses)
    access = [line for line in lines if line["logger"] == "tongban.access"]
    assert ids <= {line["request_id"] for line in access}
    assert all(line["request_id"] != "-" for line in access)
    assert all({"route", "status", "duration_ms", "method"} <= set(line) for line in access)
    # every line logged while a request was served carries that request's id
    during = [
        line
        for line in lines
        if line["logger"].startswith(("tongban.graphql", "tongban.staff", "tongban.web"))
    ]
    assert during and all(line["request_id"] in ids for line in during)

    assert kept.headers["x-request-id"] == "probe-42.a"
    assert re.fullmatch(r"[0-9a-f]{32}", replaced.headers["x-request-id"])
    assert any(line["request_id"] == "probe-42.a" and line["route"] == "/healthz" for line in access)


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_log_format_setting_chooses_text_or_json_lines(settings: Settings) -> None:
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    try:
        for fmt, check in (
            ("json", lambda line: json.loads(line)["message"] == "hello 1"),
            ("text", lambda line: " INFO tongban.test [-] hello 1" in line),
        ):
            stream = io.StringIO()
            configure_logging(settings.with_(log_format=fmt), stream=stream)
            logging.getLogger("tongban.test").info("hello %d", 1)
            assert check(stream.getvalue().strip()), stream.getvalue()
    finally:
        for handler in list(root.handlers):
            root.removeHandler(handler)
        for handler in saved[0]:
            root.addHandler(handler)
        root.setLevel(saved[1])
