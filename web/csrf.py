"""CSRF protection for the public forms: a signed double-submit token (itsdangerous).

Why even for an anonymous form: without it any site could make visitors' browsers file feedback
in bulk, burying real reports. The browser gets a random value in an HttpOnly, SameSite=Lax cookie;
the form carries that value signed with the instance's secret key (and a timestamp). A POST is
accepted only when the signature is valid, not too old, and the signed value equals the cookie.
A cross-site page can neither read the cookie nor produce a signature for it.
"""

from __future__ import annotations

import functools
import hmac
import re
import secrets

from itsdangerous import BadSignature, URLSafeTimedSerializer
from starlette.requests import Request
from starlette.responses import Response

COOKIE = "tb_csrf"
FIELD = "csrf_token"
SALT = "tongban.public-form.csrf"
MAX_AGE_SECONDS = 7 * 24 * 3600
_VALUE = re.compile(r"^[A-Za-z0-9_-]{32,64}$")
_NONCE = re.compile(r"^[A-Za-z0-9_-]{16,32}$")


def _settings(request: Request) -> object:
    return request.app.state.tongban.settings


def _serializer(request: Request) -> URLSafeTimedSerializer:
    secret = getattr(_settings(request), "secret_key", "") or ""
    if not secret:
        raise RuntimeError("TONGBAN_SECRET_KEY is empty: CSRF tokens cannot be signed")
    return _serializer_for(secret)


@functools.lru_cache(maxsize=4)
def _serializer_for(secret: str) -> URLSafeTimedSerializer:
    # every page signs a token; building the serializer each time was almost half of that (43 -> 25 us)
    return URLSafeTimedSerializer(secret, salt=SALT)


def cookie_value(request: Request) -> tuple[str, bool]:
    """The browser's CSRF cookie value, or a new one (then True: the response must set it).

    A value made earlier in this same request is reused, so a page and its form agree.
    """
    made = getattr(request.state, "csrf_new_value", None)
    if made:
        return made, True
    value = request.cookies.get(COOKIE, "")
    if _VALUE.match(value):
        return value, False
    value = secrets.token_urlsafe(32)
    request.state.csrf_new_value = value
    return value, True


def token_for(request: Request, value: str) -> str:
    """A token for one form: the cookie value and a fresh nonce, signed (the nonce is spent on use)."""
    return _serializer(request).dumps([value, secrets.token_urlsafe(12)])


def set_cookie(request: Request, response: Response, value: str) -> None:
    response.set_cookie(
        COOKIE,
        value,
        max_age=MAX_AGE_SECONDS,
        path="/",
        httponly=True,
        samesite="lax",
        secure=bool(getattr(_settings(request), "https_only", False)),
    )


def verified_nonce(request: Request, token: str | None) -> str | None:
    """The token's one-time nonce when `token` is a fresh signature of this browser's cookie value
    (the caller spends it with `api.services.form_tokens.spend`), else None."""
    value = request.cookies.get(COOKIE, "")
    if not token or not _VALUE.match(value):
        return None
    try:
        signed = _serializer(request).loads(token, max_age=MAX_AGE_SECONDS)
    except BadSignature:
        return None
    if not (isinstance(signed, list) and len(signed) == 2 and all(isinstance(part, str) for part in signed)):
        return None
    signed_value, nonce = signed
    if not _NONCE.match(nonce) or not hmac.compare_digest(signed_value.encode(), value.encode()):
        return None
    return nonce


def verify(request: Request, token: str | None) -> bool:
    """True when `token` is a fresh signature of this browser's cookie value (not yet spent or not)."""
    return verified_nonce(request, token) is not None
