"""The HTTP side of /graphql: JSON bodies only, GET for queries only, no batching, no WebSocket.

This module is the one place that reaches into strawberry's HTTP view; it uses its documented
hooks (`get_context`, `process_result`, `encode_json`, `parse_http_body`, `render_graphql_ide`) and
`create_response`.

GraphQL over HTTP (the graphql-over-http draft, audited by npm `graphql-http`'s `auditServer` in
tests/test_graphql_http_audit.py): a client whose `Accept` prefers
`application/graphql-response+json` gets that media type, and a request error (the document does not
parse or validate, or the variables do not coerce: no error has a path, nothing was executed)
answers 400 without a `data` entry. A client that asks for `application/json` (or sends no Accept,
or `*/*`) keeps the old behaviour: 200 with `"data": null`. `Vary: Accept` says the answer depends
on it.

Refusals are JSON too (`{"errors": [{"message", "extensions": {"code"}}]}`) with the HTTP status that
says what was wrong: 405 for a mutation over GET or another method, 415 for a body that is not
`application/json`, 400 for a batch (a JSON array), a body that is not a JSON object, or unparsable
JSON. A partner's client can therefore always read `extensions.code`.
"""

from __future__ import annotations

import json
import re
from typing import Any

from cross_web import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import Receive, Scope, Send
from strawberry.asgi import GraphQL
from strawberry.http.parse_content_type import parse_content_type
from strawberry.schema.exceptions import InvalidOperationTypeError

from api.schema.context import GraphQLContext
from api.schema.errors import ensure_codes

GRAPHQL_RESPONSE = "application/graphql-response+json"
_CODES = {400: "BAD_REQUEST", 404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED", 415: "UNSUPPORTED_MEDIA_TYPE"}
_SURROGATE = re.compile("[\ud800-\udfff]")


def error_response(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    body = {"errors": [{"message": message, "extensions": {"code": _CODES.get(status, "BAD_REQUEST")}}]}
    return JSONResponse(body, status_code=status, headers=headers)


def _has_lone_surrogate(value: object, depth: int = 0) -> bool:
    """True when any string in the decoded body holds a UTF-16 surrogate (not valid Unicode text)."""
    if depth > 200:
        return False
    if isinstance(value, str):
        return _SURROGATE.search(value) is not None
    if isinstance(value, dict):
        return any(
            _has_lone_surrogate(k, depth + 1) or _has_lone_surrogate(v, depth + 1) for k, v in value.items()
        )
    if isinstance(value, list):
        return any(_has_lone_surrogate(v, depth + 1) for v in value)
    return False


def _accept_weights(header: str) -> dict[str, float]:
    """Media range -> q from an Accept header (malformed q values count as 1, as browsers do)."""
    weights: dict[str, float] = {}
    for part in header.split(","):
        media, *params = (p.strip() for p in part.split(";"))
        if not media:
            continue
        q = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    q = min(max(float(value), 0.0), 1.0)
                except ValueError:
                    q = 1.0
        media = media.lower()
        weights[media] = max(weights.get(media, 0.0), q)
    return weights


def wants_graphql_response(accept: str | None) -> bool:
    """True when the client prefers `application/graphql-response+json` (named explicitly, with a q
    at least that of `application/json`); `*/*` alone keeps `application/json` for old clients."""
    if not accept:
        return False
    weights = _accept_weights(accept)
    preferred = weights.get(GRAPHQL_RESPONSE, 0.0)
    if preferred <= 0.0:
        return False
    legacy = weights.get("application/json", weights.get("application/*", weights.get("*/*", 0.0)))
    return preferred >= legacy


def is_request_error(result: Any) -> bool:
    """Nothing was executed: the document did not parse or validate, or the variables did not
    coerce. Field errors always carry a path; these never do."""
    return bool(result.errors) and result.data is None and all(e.path is None for e in result.errors)


class TongbanGraphQL(GraphQL):
    """strawberry's ASGI view with tongban's context and stricter HTTP rules."""

    def encode_json(self, data: object) -> str:
        # An error message may echo a lone surrogate from the request; escape it (\ud800) rather
        # than fail to encode the response as UTF-8.
        text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
        if _SURROGATE.search(text) is None:
            return text
        return text.encode("utf-8", "backslashreplace").decode("utf-8")

    async def process_result(self, request: Any, result: Any) -> Any:
        if result.errors:
            result.errors = ensure_codes(result.errors)
        processed = await super().process_result(request, result)
        if wants_graphql_response(request.headers.get("accept")) and is_request_error(result):
            processed.pop("data", None)
            request.state.graphql_status = 400
        return processed

    async def render_graphql_ide(self, request: Any) -> Response:
        # GET /graphql from a browser (Accept: text/html): tongban's own API docs page with a
        # GraphiQL served by the project (no CDN, under the site's CSP) instead of strawberry's.
        from web.api_docs import api_docs

        return await api_docs(request)

    async def get_context(self, request: Any, response: Any) -> GraphQLContext:
        return GraphQLContext(state=request.app.state.tongban, request=request, response=response)

    def create_response(self, response_data: Any, sub_response: Response) -> Response:
        # Called only from `run()`, which we call with a Starlette request (see __call__); the
        # request is needed for Accept and is kept on the sub-response for this hook.
        response = super().create_response(response_data, sub_response)
        request = getattr(sub_response, "tongban_request", None)
        response.headers["Vary"] = "Accept"
        if request is not None and wants_graphql_response(request.headers.get("accept")):
            response.headers["Content-Type"] = GRAPHQL_RESPONSE + "; charset=utf-8"
            status = getattr(request.state, "graphql_status", None)
            if status is not None:
                response.status_code = status
        return response

    async def get_sub_response(self, request: Any) -> Response:
        sub_response = await super().get_sub_response(request)
        sub_response.tongban_request = request  # type: ignore[attr-defined]
        return sub_response

    async def parse_http_body(self, request_adapter: Any) -> Any:
        if request_adapter.method == "POST":
            content_type, _ = parse_content_type(request_adapter.content_type or "")
            if content_type != "application/json":
                raise HTTPException(415, "请求体应为 JSON (Content-Type: application/json)")
            body = await request_adapter.get_body()
            try:
                data = json.loads(body)
            except (ValueError, UnicodeDecodeError, RecursionError) as exc:
                raise HTTPException(400, "请求体不是有效的 JSON") from exc
            if _has_lone_surrogate(data):
                raise HTTPException(400, "请求含有无效的 Unicode 字符 (lone surrogate)")
            if isinstance(data, list):
                raise HTTPException(400, "不支持批量请求 (batching is not supported): 请每次发送一个操作")
            if not isinstance(data, dict):
                raise HTTPException(400, '请求体应为 JSON 对象 {"query": …, "variables": …}')
        parsed = await super().parse_http_body(request_adapter)
        if _has_lone_surrogate(getattr(parsed, "query", None)) or _has_lone_surrogate(
            getattr(parsed, "variables", None)
        ):
            raise HTTPException(400, "请求含有无效的 Unicode 字符 (lone surrogate)")
        return parsed

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":  # no WebSocket, no subscriptions
            raise ValueError("GraphQL is served over HTTP only")
        request = Request(scope=scope, receive=receive)
        response: Response
        try:
            response = await self.run(request)
        except RecursionError:
            response = error_response(400, "请求嵌套过深 (nesting too deep)")
        except HTTPException as exc:
            if isinstance(exc.__cause__, InvalidOperationTypeError):
                response = error_response(405, "GET 只能用于查询, 变更请用 POST", {"Allow": "POST"})
            elif exc.status_code == 405:
                response = error_response(405, exc.reason, {"Allow": "GET, POST"})
            else:
                response = error_response(exc.status_code, exc.reason)
        await response(scope, receive, send)
