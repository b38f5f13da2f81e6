"""The HTTP side of /graphql: JSON bodies only, GET for queries only, no batching, no WebSocket.

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
        return any(_has_lone_surrogate(k, depth + 1) or _has_lone_surrogate(v, depth + 1) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_lone_surrogate(v, depth + 1) for v in value)
    return False


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
        return await super().process_result(request, result)

    async def get_context(self, request: Any, response: Any) -> GraphQLContext:
        return GraphQLContext(state=request.app.state.tongban, request=request, response=response)

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
        if _has_lone_surrogate(getattr(parsed, "query", None)) or _has_lone_surrogate(getattr(parsed, "variables", None)):
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
