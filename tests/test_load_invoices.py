"""`manage.py load_invoices FILE`: the billing system's CSV export, whole or not at all."""

import datetime
import io
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import translation

from accounts.models import Member
from backoffice.models import Invoice

pytestmark = pytest.mark.django_db

HEADER = "member_id,number,issued,due,amount_yen,status\n"
GOOD = "JPN1000001,INV-1,2026-10-01,2026-10-31,12345,open\n"
SAMPLE = Path(__file__).parent / "data" / "invoices.csv"


def write(tmp_path, text: str, encoding="utf-8"):
    path = tmp_path / "invoices.csv"
    path.write_bytes(text.encode(encoding) if isinstance(text, str) else text)
    return path


def load(path, language="en"):
    """(stdout, stderr, the CommandError's text or None), in the operator's language."""
    out, err = io.StringIO(), io.StringIO()
    with translation.override(language):
        try:
            call_command("load_invoices", str(path), stdout=out, stderr=err)
        except CommandError as error:
            return out.getvalue(), err.getvalue(), str(error)
    return out.getvalue(), err.getvalue(), None


def snapshot():
    return sorted(
        Invoice.objects.values_list(
            "number", "member__member_id", "issued", "due", "amount_yen", "status", "updated"
        )
    )


@pytest.fixture
def members(member, english_member):
    return member, english_member


def test_the_sample_file_loads_for_the_demo_member_typed_three_ways(db):
    Member.objects.create_user("JPN1234567", email="hanako@example.com")
    out, err, error = load(SAMPLE)

    assert error is None, err
    assert "Created: 3" in out and "Updated: 0" in out and "Unchanged: 0" in out
    assert set(Invoice.objects.values_list("member__member_id", flat=True)) == {"JPN1234567"}
    invoice = Invoice.objects.get(number="INV-2026-0001")
    assert (invoice.issued, invoice.due) == (
        datetime.date(2026, 10, 1),
        datetime.date(2026, 10, 31),
    )
    assert (invoice.amount_yen, invoice.status) == (12345, "paid")


def test_loading_the_same_file_twice_changes_nothing(tmp_path, members):
    path = write(tmp_path, HEADER + GOOD + "JPN1000002,INV-2,2026-10-01,2026-10-31,0,void\n")
    load(path)
    before = snapshot()
    out, err, error = load(path)

    assert error is None
    assert "Created: 0" in out and "Updated: 0" in out and "Unchanged: 2" in out
    assert snapshot() == before  # not even the updated time


def test_a_newer_export_updates_the_same_members_invoice(tmp_path, members):
    load(write(tmp_path, HEADER + GOOD))
    out, _, error = load(
        write(tmp_path, HEADER + "jpn1000001,INV-1,2026-10-01,2026-11-15,12000,paid\n")
    )

    assert error is None and "Updated: 1" in out and "Unchanged: 0" in out
    invoice = Invoice.objects.get(number="INV-1")
    assert (invoice.due, invoice.amount_yen, invoice.status) == (
        datetime.date(2026, 11, 15),
        12000,
        "paid",
    )


@pytest.mark.parametrize("bom", [b"", b"\xef\xbb\xbf"])
def test_utf8_with_or_without_a_bom_loads(tmp_path, members, bom):
    out, _, error = load(write(tmp_path, bom + (HEADER + GOOD).encode()))
    assert error is None
    assert ("UTF-8 (BOM)" in out) == bool(bom)


def test_blank_lines_and_crlf_line_ends_are_fine(tmp_path, members):
    text = HEADER.replace("\n", "\r\n") + "\r\n" + GOOD.replace("\n", "\r\n") + ",,,,,\r\n"
    _, _, error = load(write(tmp_path, text))
    assert error is None and Invoice.objects.count() == 1


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("JPN7777777,INV-9,2026-10-01,2026-10-31,100,open", "There is no member JPN7777777."),
        (
            "JPN12,INV-9,2026-10-01,2026-10-31,100,open",
            "Member ID “JPN12” is not JPN followed by 7 digits.",
        ),
        (
            "JPN1000001,INV-9,2026/10/01,2026-10-31,100,open",
            "The issued date “2026/10/01” is not a date written YYYY-MM-DD.",
        ),
        (
            "JPN1000001,INV-9,2026-10-01,2026-02-30,100,open",
            "The due date “2026-02-30” is not a date written YYYY-MM-DD.",
        ),
        (
            "JPN1000001,INV-9,2026-10-01,,100,open",
            "The due date “” is not a date written YYYY-MM-DD.",
        ),
        (
            "JPN1000001,INV-9,2026-10-01,2026-09-30,100,open",
            "The due date 2026-09-30 is before the issue date 2026-10-01.",
        ),
        ("JPN1000001,INV-9,2026-10-01,2026-10-31,-100,open", "The amount -100 is negative."),
        (
            "JPN1000001,INV-9,2026-10-01,2026-10-31,12.5,open",
            "The amount “12.5” is not a whole number of yen",
        ),
        (
            'JPN1000001,INV-9,2026-10-01,2026-10-31,"12,345",open',
            "The amount “12,345” is not a whole number of yen",
        ),
        (
            "JPN1000001,INV-9,2026-10-01,2026-10-31,,open",
            "The amount “” is not a whole number of yen",
        ),
        (
            "JPN1000001,INV-9,2026-10-01,2026-10-31," + "9" * 5000 + ",open",
            "The amount " + "9" * 40 + "… is too large.",
        ),
        (
            "JPN1000001,INV-9,2026-10-01,2026-10-31,100,overdue",
            "Status “overdue” is not one of open, paid or void.",
        ),
        (
            "JPN1000001,INV-9,2026-10-01,2026-10-31,100,",
            "Status “” is not one of open, paid or void.",
        ),
        (
            "JPN1000001,INV 9/x,2026-10-01,2026-10-31,100,open",
            "Invoice number “INV 9/x”: An invoice number is",
        ),
        ("JPN1000001,,2026-10-01,2026-10-31,100,open", "Invoice number “”: An invoice number is"),
        (
            "JPN1000001,INV-1,2026-10-01,2026-10-31,100,open",
            "Invoice number INV-1 is already on line 2.",
        ),
        (
            "JPN1000001,INV-9,2026-10-01,2026-10-31,100",
            "The row has 5 fields but the header has 6.",
        ),
        (
            "JPN1000001,INV-9,2026-10-01,2026-10-31,100,open,x",
            "The row has 7 fields but the header has 6.",
        ),
    ],
)
def test_a_bad_line_loads_nothing_and_is_named_with_its_reason(tmp_path, members, line, reason):
    # A good line before the bad one: that one is not loaded either.
    out, err, error = load(write(tmp_path, HEADER + GOOD + line + "\n"))

    assert error is not None and "Nothing was changed." in error
    assert "Line 3: " + reason in err, err
    assert not Invoice.objects.exists()
    assert "Created" not in out


def test_every_bad_line_is_listed_not_only_the_first(tmp_path, members):
    text = (
        HEADER
        + "JPN12,INV-1,2026-10-01,2026-10-31,100,open\n"
        + GOOD
        + "JPN1000001,INV-3,x,2026-10-31,-1,nope\n"
    )
    _, err, error = load(write(tmp_path, text))
    assert "4 problems" in error
    assert err.count("Line 2: ") == 1 and err.count("Line 4: ") == 3


def test_a_number_of_another_members_invoice_is_refused(tmp_path, members):
    member, english_member = members
    Invoice.objects.create(
        member=english_member, number="INV-1", issued="2026-01-01", due="2026-01-31", amount_yen=5
    )
    before = snapshot()
    _, err, error = load(write(tmp_path, HEADER + GOOD))

    assert "Line 2: Invoice number INV-1 already belongs to member JPN1000002." in err
    assert snapshot() == before


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "The file is empty"),
        ("\ufeff \n", "The file is empty"),
        (HEADER, "Line 1: The file has a header line but no invoices."),
        (
            "member_id,number,issued,due,amount_yen\n" + GOOD,
            "Line 1: The header lacks the columns status.",
        ),
        (
            HEADER.replace("\n", ",note\n") + GOOD,
            "Line 1: The header has columns this file must not have: note.",
        ),
        (
            "member_id,number,issued,due,amount_yen,status,status\n" + GOOD,
            "These columns appear more than once: status.",
        ),
        (
            "id;number;issued;due;amount;status\n" + GOOD,
            "Line 1: The header lacks the columns member_id, number, issued, due, amount_yen, status.",
        ),
    ],
)
def test_a_file_that_is_not_the_export_loads_nothing(tmp_path, members, text, reason):
    _, err, error = load(write(tmp_path, text))
    assert error is not None
    assert reason in err, err
    assert not Invoice.objects.exists()


def test_a_file_that_is_not_utf8_names_the_line(tmp_path, members):
    text = (HEADER + GOOD + "JPN1000002,INV-2,2026-10-01,2026-10-31,100,open\n").encode()
    text = text.replace(b"INV-2", b"INV-\x82\xa0")  # CP932's あ
    _, err, error = load(write(tmp_path, text))
    assert "Line 3: Byte 0x82 is not UTF-8" in err
    assert not Invoice.objects.exists()


def test_a_quote_left_open_is_not_readable_csv(tmp_path, members):
    _, err, error = load(write(tmp_path, HEADER + GOOD + 'JPN1000001,"INV-2,2026-10-01\n'))
    assert "This is not CSV that can be read" in err and error is not None
    assert not Invoice.objects.exists()


def test_a_missing_file_or_a_folder_is_said_plainly(tmp_path):
    assert f"There is no file {tmp_path / 'nope.csv'}." in load(tmp_path / "nope.csv")[1]
    assert f"{tmp_path} is a folder, not a file." in load(tmp_path)[1]


def test_japanese_operators_read_japanese(tmp_path, members):
    _, err, error = load(write(tmp_path, HEADER + GOOD.replace("12345", "-5")), language="ja")
    assert "2 行目：金額 -5 がマイナスです。" in err, err
    assert "何も変更していません。" in error


def test_japanese_operators_read_the_summary_in_japanese(tmp_path, members):
    out, _, error = load(write(tmp_path, HEADER + GOOD), language="ja")
    assert error is None
    assert "新規登録：1" in out and "更新：0" in out and "変更なし：0" in out


def test_the_report_is_in_the_language_asked_for_and_else_the_sites(db):
    Member.objects.create_user("JPN1234567", email="hanako@example.com")
    english, japanese = io.StringIO(), io.StringIO()
    call_command("load_invoices", str(SAMPLE), "--language", "en", stdout=english)
    call_command("load_invoices", str(SAMPLE), stdout=japanese)

    assert "Created: 3" in english.getvalue()
    assert "変更なし：3" in japanese.getvalue()
