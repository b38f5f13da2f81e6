"""One table of words (api/words.py): one status, one name, wherever it is shown; and import files
written with the former staff labels still read as before."""

from __future__ import annotations

import pytest

from api import rules
from api.enums import AgreementStatus, label
from api.services import imports
from api.words import AGREEMENT_STATUS_WORDS, LABELS


@pytest.mark.parametrize("status", list(AgreementStatus))
def test_an_agreement_status_has_one_name(status: AgreementStatus) -> None:
    assert label(status) == LABELS[status.value] == AGREEMENT_STATUS_WORDS[status.value]
    assert set(AGREEMENT_STATUS_WORDS) == rules.AGREEMENT_STATUSES


def test_no_two_agreement_statuses_share_a_name() -> None:
    assert len(set(AGREEMENT_STATUS_WORDS.values())) == len(AGREEMENT_STATUS_WORDS)


@pytest.mark.parametrize(
    ("cell", "stored"),
    [
        ("已中止", "SUSPENDED"),
        ("暂停", "SUSPENDED"),
        ("已终止", "TERMINATED"),
        ("终止", "TERMINATED"),
        ("待生效", "PENDING"),
        ("未生效", "PENDING"),
        ("生效中", "ACTIVE"),
        ("ACTIVE", "ACTIVE"),
        ("不知道", "不知道"),  # left for the validation to reject with its message
    ],
)
def test_import_reads_current_and_former_status_words(cell: str, stored: str) -> None:
    assert imports._normalise_cell("agreements", "status", cell) == stored


def test_former_words_only_for_their_own_column() -> None:
    assert imports._normalise_cell("matters", "scope", "暂停") == "暂停"
