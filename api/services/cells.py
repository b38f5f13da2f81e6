"""Spreadsheet cells that stay data: no formula ever leaves tongban in a CSV or XLSX file.

A hall phone `=1+2` typed through GraphQL used to leave `tongban export` as a live formula (OWASP
"CSV injection": a spreadsheet runs `=`, `+`, `-`, `@` and, after a tab or carriage return, whatever
follows). Every file tongban writes goes through here:

- **XLSX**: text is written as a string cell (`data_type` "s"), never a formula, whatever it starts
  with. The value is unchanged, so an XLSX import reads back exactly what was exported.
- **CSV**: text that starts with one of `= + - @`, a tab or a carriage return gets a leading `'`
  (OWASP's neutralisation: a spreadsheet shows the text and runs nothing). So that the escaping can
  be undone exactly, text that genuinely starts with `'` gets one more `'` too; `csv_unescape`, used
  by the CSV import, removes exactly one leading `'`. Export → import → export is therefore
  byte-identical, and no value is changed or lost. Numbers (a negative latitude) are numbers, not
  text, and are written as they are.
"""

from __future__ import annotations

from typing import Any

#: what a spreadsheet takes for the start of a formula (OWASP CSV injection)
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
QUOTE = "'"


def csv_escape(value: Any) -> Any:
    """The CSV cell for a value: text that a spreadsheet would run (or that starts with the escape
    character itself) gets a leading `'`; anything else is returned unchanged."""
    if isinstance(value, str) and value.startswith((*FORMULA_STARTS, QUOTE)):
        return QUOTE + value
    return value


def csv_unescape(text: str) -> tuple[str, bool]:
    """The value a CSV cell stands for, and whether it was escaped (then it is text as written:
    neither trimmed nor read as JSON)."""
    if text.startswith(QUOTE):
        return text[1:], True
    return text, False


def xlsx_cell(sheet: Any, value: Any) -> Any:
    """A write-only XLSX cell: text always as a string cell, never a formula."""
    from openpyxl.cell import WriteOnlyCell

    cell = WriteOnlyCell(sheet, value=value)
    if isinstance(value, str):
        cell.data_type = "s"
    return cell


def as_text_cell(cell: Any) -> Any:
    """For a normal (not write-only) worksheet cell whose value was just set: text stays text."""
    if isinstance(cell.value, str):
        cell.data_type = "s"
    return cell
