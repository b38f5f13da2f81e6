"""Field parsing shared by every record kind: one reader per value type, each collecting a FieldError
instead of raising, so a whole import file (or a whole form) is checked before anything is written."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from enum import StrEnum
from typing import Any, TypeVar

from api.services.base import FieldError

E = TypeVar("E", bound=StrEnum)

_MISSING = object()


def _bad_character(text: str, *, allow_newlines: bool) -> str | None:
    """Why a text cannot be stored: control characters, or a lone UTF-16 surrogate (which no
    database can encode)."""
    for ch in text:
        if "\ud800" <= ch <= "\udfff":
            return "含有无效字符"
        if ord(ch) < 32 and not (allow_newlines and ch in "\n\t\r"):
            return "含有控制字符"
    return None


class Reader:
    """Reads typed values out of one raw record (a camelCase dict), remembering every problem."""

    def __init__(self, raw: object, section: str | None = None, row: int | None = None) -> None:
        # `raw` is whatever a file or request held: anything but a mapping is one error, not a crash
        self.raw: Mapping[str, Any] = raw if isinstance(raw, Mapping) else {}
        self.section = section
        self.row = row
        self.errors: list[FieldError] = []
        key = self.raw.get("key") or self.raw.get("code") or self.raw.get("regionCode")
        self.key = str(key) if key not in (None, "") else None
        if not isinstance(raw, Mapping):
            self.fail("(record)", "应为一个对象(JSON object)")

    def fail(self, field: str, message: str) -> None:
        self.errors.append(FieldError(field, message, self.section, self.row, self.key))

    def has(self, field: str) -> bool:
        return field in self.raw

    def _get(self, field: str) -> Any:
        value = self.raw.get(field, _MISSING)
        if isinstance(value, str):
            value = value.strip()
            if value == "":
                return None
        return None if value is _MISSING else value

    def text(self, field: str, *, required: bool = False, max_len: int = 2000) -> str | None:
        value = self._get(field)
        if value is None:
            if required:
                self.fail(field, "必填")
            return None
        if not isinstance(value, str | int | float) or isinstance(value, bool):
            self.fail(field, "应为文字")
            return None
        value = str(value)
        if len(value) > max_len:
            self.fail(field, f"过长(最多{max_len}字)")
            return None
        problem = _bad_character(value, allow_newlines=True)
        if problem:
            self.fail(field, problem)
            return None
        return value

    def boolean(self, field: str, default: bool) -> bool:
        value = self._get(field)
        if value is None:
            return default
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in {"true", "1", "yes", "是", "y"}:
            return True
        if isinstance(value, str) and value.lower() in {"false", "0", "no", "否", "n"}:
            return False
        if isinstance(value, int) and value in (0, 1):
            return bool(value)
        self.fail(field, "应为 true 或 false")
        return default

    def date(self, field: str, *, required: bool = False) -> dt.date | None:
        value = self._get(field)
        if value is None:
            if required:
                self.fail(field, "必填(日期, 格式 YYYY-MM-DD)")
            return None
        if isinstance(value, dt.datetime):
            return value.date()
        if isinstance(value, dt.date):
            return value
        text = str(value)
        if len(text) > 10 and text[10] in "T ":
            text = text[:10]  # a spreadsheet datetime cell: keep the calendar date
        try:
            return dt.date.fromisoformat(text)
        except ValueError:
            self.fail(field, f"不是有效日期: {str(value)[:40]!r} (格式 YYYY-MM-DD)")
            return None

    def integer(self, field: str, *, minimum: int | None = None, maximum: int | None = None) -> int | None:
        value = self._get(field)
        if value is None:
            return None
        if isinstance(value, bool):
            self.fail(field, "应为整数")
            return None
        try:
            number = int(value) if not isinstance(value, float) or value.is_integer() else None
        except (TypeError, ValueError, OverflowError):
            number = None
        if number is None:
            self.fail(field, "应为整数")
            return None
        if (minimum is not None and number < minimum) or (maximum is not None and number > maximum):
            self.fail(field, f"应在 {minimum} 到 {maximum} 之间")
            return None
        return number

    def number(
        self, field: str, *, minimum: float | None = None, maximum: float | None = None
    ) -> float | None:
        value = self._get(field)
        if value is None:
            return None
        try:
            number = float(value)
        except (TypeError, ValueError, OverflowError):
            self.fail(field, "应为数字")
            return None
        if isinstance(value, bool) or math.isnan(number) or math.isinf(number):
            self.fail(field, "应为数字")
            return None
        if (minimum is not None and number < minimum) or (maximum is not None and number > maximum):
            self.fail(field, f"应在 {minimum:g} 到 {maximum:g} 之间")
            return None
        return number

    def enum(self, field: str, cls: type[E], *, required: bool = False, default: E | None = None) -> E | None:
        value = self._get(field)
        if value is None:
            if required and default is None:
                self.fail(field, "必填, 可选值: " + ", ".join(m.value for m in cls))
            return default
        try:
            return cls(str(value).upper())
        except ValueError:
            self.fail(field, f"无效取值 {str(value)[:40]!r}, 可选值: " + ", ".join(m.value for m in cls))
            return default

    def enum_list(self, field: str, cls: type[E]) -> list[E]:
        values = self.string_list(field)
        result: list[E] = []
        for value in values:
            try:
                member = cls(value.upper())
            except ValueError:
                self.fail(field, f"无效取值 {value[:40]!r}, 可选值: " + ", ".join(m.value for m in cls))
                continue
            if member not in result:
                result.append(member)
        return result

    def string_list(self, field: str, *, max_items: int = 1000, max_len: int = 200) -> list[str]:
        value = self.raw.get(field)
        if value is None or value == "":
            return []
        if isinstance(value, str):
            value = [
                part for part in value.replace("；", ";").replace("，", ",").replace(";", ",").split(",")
            ]
        if not isinstance(value, list | tuple):
            self.fail(field, "应为列表")
            return []
        result: list[str] = []
        for item in value[:max_items]:
            if not isinstance(item, str | int) or isinstance(item, bool):
                self.fail(field, "列表项应为文字")
                return []
            text = str(item).strip()
            problem = _bad_character(text, allow_newlines=False)
            if problem:
                self.fail(field, problem)
                return []
            if len(text) > max_len:
                self.fail(field, f"列表项过长(最多{max_len}字)")
                return []
            if text and text not in result:
                result.append(text)
        if len(value) > max_items:
            self.fail(field, f"最多 {max_items} 项")
        return result

    def optional_list(self, field: str) -> list[str] | None:
        """`null` (or absent) means "all"; an explicit list (even empty) is a list."""
        if self.raw.get(field) is None:
            return None
        return self.string_list(field)
