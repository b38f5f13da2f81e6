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
from itsdangerous.encoding import base64_encode, int_to_bytes
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


class _Signing:
    """`URLSafeTimedSerializer.dumps` with its signer and derived key made once per secret (the
    serializer makes a signer and derives its key again for every token: a third of a token's
    cost). Same payload encoding, timestamp and HMAC; a test compares the tokens."""

    def __init__(self, serializer: URLSafeTimedSerializer) -> None:
        self.serializer = serializer
        self.signer = serializer.make_signer()
        self.key = self.signer.derive_key()
        self.sep = self.signer.sep
        self.digest = self.signer.digest_method

    def dumps(self, obj: object) -> str:
        value = self._payload(obj) + self.sep
        value += base64_encode(int_to_bytes(self.signer.get_timestamp()))
        signature = base64_encode(hmac.new(self.key, value, self.digest).digest())
        return (value + self.sep + signature).decode("utf-8")

    def _payload(self, obj: object) -> bytes:
        """`serializer.dump_payload(obj)`, except that a list of URL-safe strings (a token's cookie
        value and nonce) is written here, never compressed: its compact JSON needs no escaping
        (the serializer's JSON encoder was half of a token's cost), and random text never
        compresses, while trying cost a 256 KB zlib state per page. `loads` reads a payload
        compressed or not; the tokens are the serializer's whenever it would not compress."""
        if not (isinstance(obj, list) and all(type(part) is str and _URL_SAFE.match(part) for part in obj)):
            return self.serializer.dump_payload(obj)
        return base64_encode(("[" + ",".join(f'"{part}"' for part in obj) + "]").encode("ascii"))


_URL_SAFE = re.compile(r"[A-Za-z0-9_-]*\Z")


@functools.lru_cache(maxsize=4)
def _signing_for(secret: str) -> _Signing:
    return _Signing(_serializer_for(secret))


def token_for(request: Request, value: str) -> str:
    """A token for one form: the cookie value and a fresh nonce, signed (the nonce is spent on use)."""
    _serializer(request)  # the empty-secret check
    return _signing_for(_settings(request).secret_key).dumps([value, secrets.token_urlsafe(12)])  # type: ignore[attr-defined]


def set_cookie(request: Request, response: Response, value: str) -> None:
    """The CSRF cookie, written as Starlette's `set_cookie` writes it (a test compares them): its
    `http.cookies` machinery cost more than the rest of the header handling of a page."""
    if not _VALUE.match(value):  # (never: values are made by `cookie_value`) quoting is Starlette's job
        response.set_cookie(
            COOKIE,
            value,
            max_age=MAX_AGE_SECONDS,
            path="/",
            httponly=True,
            samesite="lax",
            secure=bool(getattr(_settings(request), "https_only", False)),
        )
        return
    secure = "; Secure" if getattr(_settings(request), "https_only", False) else ""
    header = f"{COOKIE}={value}; HttpOnly; Max-Age={MAX_AGE_SECONDS}; Path=/; SameSite=lax{secure}"
    response.raw_headers.append((b"set-cookie", header.encode("latin-1")))


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
