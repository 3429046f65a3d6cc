"""manage.py load_quotes FILE: the ticker's feed (DESIGN.md's columns), refused whole when bad."""

import io
import json
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import translation

from backoffice.models import Quote
from tests.conftest import SAMPLE_FEED

pytestmark = pytest.mark.django_db

HEADER = "symbol,name,last,change,percent,as_of\n"
GOOD = [
    "GER40,Germany 40,15676.9,5.0,0.03,2021-09-03T16:00:00+09:00",
    "EURUSD,Euro / US Dollar,1.18424,-0.00024,-0.02,2021-09-03T07:00:00Z",
]


def load(path, language="en") -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command("load_quotes", str(path), "--language", language, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def refused(path, language="en") -> str:
    """The command's whole complaint: the lines on stderr and the final error."""
    err = io.StringIO()
    with pytest.raises(CommandError) as error:
        call_command("load_quotes", str(path), "--language", language, stderr=err)
    return err.getvalue() + str(error.value)


def csv_file(tmp_path, *lines, header=HEADER, name="feed.csv"):
    path = tmp_path / name
    path.write_text(header + "".join(line + "\n" for line in lines), encoding="utf-8")
    return path


def json_file(tmp_path, text: str):
    path = tmp_path / "feed.json"
    path.write_text(text, encoding="utf-8")
    return path


def snapshot() -> list[tuple]:
    return list(Quote.objects.order_by("symbol").values_list())


def test_it_loads_the_sample_feed(tmp_path):
    out, _err = load(SAMPLE_FEED)

    assert out.splitlines() == ["Quotes added: 4", "Quotes replaced: 0", "Quotes unchanged: 0"]
    eth = Quote.objects.get(symbol="ETHUSD")
    assert (eth.last, eth.change, eth.percent) == (Decimal("3440.61"), Decimal("11.00"), None)
    assert eth.as_of.isoformat() == "2021-09-03T07:00:00+00:00"


def test_loading_the_same_file_twice_changes_nothing(tmp_path):
    load(SAMPLE_FEED)
    before = snapshot()

    out, _err = load(SAMPLE_FEED)

    assert out.splitlines() == ["Quotes added: 0", "Quotes replaced: 0", "Quotes unchanged: 4"]
    assert snapshot() == before


def test_a_new_quote_replaces_the_last_one_of_its_symbol(tmp_path):
    load(SAMPLE_FEED)
    newer = csv_file(
        tmp_path, "EURUSD,Euro / US Dollar,1.18500,0.00076,0.06,2021-09-03T17:00:00+09:00"
    )

    out, _err = load(newer)

    assert out.splitlines() == ["Quotes added: 0", "Quotes replaced: 1", "Quotes unchanged: 0"]
    assert Quote.objects.count() == 4
    eur = Quote.objects.get(symbol="EURUSD")
    assert str(eur.last) == "1.18500" and str(eur.change) == "0.00076"


def test_a_change_of_precision_alone_is_a_change(tmp_path):
    load(csv_file(tmp_path, "GER40,Germany 40,15676.9,5.0,0.03,2021-09-03T16:00:00+09:00"))

    out, _err = load(
        csv_file(tmp_path, "GER40,Germany 40,15676.90,5.00,0.03,2021-09-03T16:00:00+09:00")
    )

    assert "Quotes replaced: 1" in out
    assert str(Quote.objects.get().last) == "15676.90"


def test_it_reads_json_with_numbers_kept_exactly(tmp_path):
    feed = json_file(
        tmp_path,
        json.dumps(
            [
                {
                    "symbol": "EURUSD",
                    "name": "Euro",
                    "last": "1.18424",
                    "change": "-0.00024",
                    "percent": None,
                    "as_of": "2021-09-03T16:00:00+09:00",
                },
            ]
        ).replace('"1.18424"', "1.18424"),
    )

    load(feed)

    quote = Quote.objects.get()
    assert str(quote.last) == "1.18424" and quote.percent is None


def test_a_utf8_bom_and_blank_lines_are_fine(tmp_path):
    path = tmp_path / "feed.csv"
    path.write_bytes(("\ufeff" + HEADER + GOOD[0] + "\n\n,,,,,\n" + GOOD[1] + "\n").encode())

    out, _err = load(path)

    assert "Quotes added: 2" in out


def test_columns_may_come_in_any_order(tmp_path):
    feed = csv_file(
        tmp_path,
        "2021-09-03T16:00:00+09:00,,1.18424,-0.00024,Euro,EURUSD",
        header="as_of,percent,last,change,name,symbol\n",
    )

    load(feed)

    assert Quote.objects.get().name == "Euro"


# --- A bad file loads nothing, and says where and why ---------------------------------------

BAD_LINES = [
    (
        "GER40,Germany 40,15,676.9,5.0,0.03,2021-09-03T16:00:00+09:00",
        "has 7 fields but the header has 6",
    ),
    ("GER40,Germany 40,1e5,5.0,0.03,2021-09-03T16:00:00+09:00", "last: “1e5” is not a number"),
    ("GER40,Germany 40,NaN,5.0,0.03,2021-09-03T16:00:00+09:00", "last: “NaN” is not a number"),
    ("GER40,Germany 40,１５６７６.９,5.0,0.03,2021-09-03T16:00:00+09:00", "is not a number"),
    (
        "GER40,Germany 40,15676.9,,0.03,2021-09-03T16:00:00+09:00",
        "change: This field cannot be blank.",
    ),
    (
        "GER40,Germany 40,15676.9,5.0,abc,2021-09-03T16:00:00+09:00",
        "percent: “abc” is not a number",
    ),
    ("GER40,Germany 40,15676.123456789,5.0,0.03,2021-09-03T16:00:00+09:00", "is not a number"),
    ("GER40,Germany 40,15676.9,5.0,-0.03,2021-09-03T16:00:00+09:00", "point different ways"),
    ("GER40,Germany 40,15676.9,5.0,0.03,2021-09-03T16:00:00", "has no UTC offset"),
    ("GER40,Germany 40,15676.9,5.0,0.03,2021-09-03", "has no UTC offset"),
    ("GER40,Germany 40,15676.9,5.0,0.03,yesterday", "is not a date and time"),
    ("GER40,Germany 40,15676.9,5.0,0.03,2021-02-30T16:00:00+09:00", "is not a date and time"),
    ("GER40,Germany 40,15676.9,5.0,0.03,0001-01-01T00:00:00+09:00", "is not a date and time"),
    ("GER40,Germany 40,15676.9,5.0,0.03,2999-01-01T00:00:00+09:00", "in the future"),
    ("GER 40,Germany 40,15676.9,5.0,0.03,2021-09-03T16:00:00+09:00", "symbol: A symbol is"),
    ("<b>,Germany 40,15676.9,5.0,0.03,2021-09-03T16:00:00+09:00", "symbol: A symbol is"),
    ("ABCDEFGHIJKLMNOPQRSTU,x,1,1,1,2021-09-03T16:00:00+09:00", "symbol: Ensure this value"),
    (
        ",Germany 40,15676.9,5.0,0.03,2021-09-03T16:00:00+09:00",
        "symbol: This field cannot be blank.",
    ),
    ("GER40,,15676.9,5.0,0.03,2021-09-03T16:00:00+09:00", "name: This field cannot be blank."),
    ("GER40,Ger\x00many,15676.9,5.0,0.03,2021-09-03T16:00:00+09:00", "control character"),
    ("GER40," + "x" * 65 + ",1,1,1,2021-09-03T16:00:00+09:00", "name: Ensure this value"),
    ("EURUSD,Again,1.2,0.1,0.1,2021-09-03T16:00:00+09:00", "Symbol EURUSD is already on line 3."),
]


@pytest.mark.parametrize("line, reason", BAD_LINES, ids=[reason for _l, reason in BAD_LINES])
def test_a_bad_line_refuses_the_whole_file_naming_the_line_and_reason(tmp_path, line, reason):
    load(SAMPLE_FEED)
    before = snapshot()
    feed = csv_file(tmp_path, "GER40,Germany 40,1,1,1,2021-09-03T16:00:00+09:00", GOOD[1], line)

    said = refused(feed)

    assert "Line 4: " in said and reason in said, said
    assert "Nothing was loaded" in said
    assert snapshot() == before  # not even the good lines before it


def test_every_bad_line_is_listed_at_once(tmp_path):
    said = refused(csv_file(tmp_path, "A,x,1,1,,bad", GOOD[0], "B,x,y,1,,2021-09-03T16:00:00Z"))

    assert "Line 2: " in said and "Line 4: " in said and "Line 3" not in said
    assert not Quote.objects.exists()


@pytest.mark.parametrize(
    "header, reason",
    [
        ("symbol,name,last,change,as_of\n", "missing column percent"),
        ("symbol,name,last,change,percent,as_of,volume\n", "unknown column volume"),
        ("symbol,name,last,change,percent,as_of,as_of\n", "repeated column as_of"),
        ("Symbol,Name,Last,Change,Percent,As_Of\n", "missing column symbol"),
        ("\n", "missing column symbol"),
    ],
    ids=["missing", "extra", "repeated", "other case", "blank header"],
)
def test_a_header_with_other_columns_is_refused(tmp_path, header, reason):
    said = refused(csv_file(tmp_path, GOOD[0], header=header))

    assert "Line 1: The columns must be symbol,name,last,change,percent,as_of" in said
    assert reason in said
    assert not Quote.objects.exists()


@pytest.mark.parametrize(
    "content, reason",
    [
        (b"", "The file is empty."),
        (b"\n \n", "The file is empty."),
        (HEADER.encode(), "The file holds no quotes."),
        (b"[]", "The file holds no quotes."),
        (
            HEADER.encode() + "GER40,Gér\xe9,1,1,1,2021-09-03T16:00:00Z\n".encode("latin-1"),
            "Line 2: byte 0xe9 is not UTF-8",
        ),
        (
            (HEADER + "GER40,ドイツ,1,1,1,2021-09-03T16:00:00Z\n").encode("cp932"),
            "Line 2: byte 0x83 is not UTF-8",
        ),
        ((HEADER + 'GER40,"Germany,1,1,1,2021-09-03T16:00:00Z\n'), "not readable as CSV"),
        (
            HEADER + "GER40," + "x" * 200_000 + ",1,1,1,2021-09-03T16:00:00Z\n",
            "not readable as CSV",
        ),
        (b"x" * (1024 * 1024 + 1), "larger than 1 MB"),
    ],
    ids=[
        "empty",
        "blank",
        "header only",
        "empty list",
        "latin-1",
        "cp932",
        "open quote",
        "huge field",
        "huge file",
    ],
)
def test_a_file_that_is_no_feed_is_refused(tmp_path, content, reason):
    path = tmp_path / "feed.csv"
    path.write_bytes(content if isinstance(content, bytes) else content.encode())

    said = refused(path)

    assert reason in said, said
    assert not Quote.objects.exists()


ROW = {
    "symbol": "GER40",
    "name": "Germany 40",
    "last": "15676.9",
    "change": "5.0",
    "percent": "0.03",
    "as_of": "2021-09-03T16:00:00+09:00",
}


@pytest.mark.parametrize(
    "text, reason",
    [
        (json.dumps(ROW), "A JSON feed must be a list of objects"),
        ('"GER40"', "A JSON feed must be a list of objects"),
        ("[" + json.dumps(ROW) + ",\n 1]", "Line 2: Each item of the list must be an object"),
        ("[\n" + json.dumps({**ROW, "volume": "1"}) + "]", "Line 2: The columns must be"),
        (
            "[\n" + json.dumps({k: v for k, v in ROW.items() if k != "percent"}) + "]",
            "missing column percent",
        ),
        ('[\n{"symbol": "A", "symbol": "B"}]', "Line 2: The key symbol appears twice."),
        ("[\n" + json.dumps({**ROW, "last": True}) + "]", "last must be text or a number"),
        ("[\n" + json.dumps({**ROW, "last": [1]}) + "]", "last must be text or a number"),
        ("[\n" + json.dumps(ROW).replace('"15676.9"', "NaN") + "]", "last: “NaN” is not a number"),
        (
            "[\n" + json.dumps(ROW).replace('"15676.9"', "1.5e4") + "]",
            "last: “1.5e4” is not a number",
        ),
        ("[\n" + json.dumps({**ROW, "as_of": "2021-09-03T16:00:00"}) + "]", "has no UTC offset"),
        (
            "[" + json.dumps(ROW) + ",\n" + json.dumps(ROW) + "]",
            "Line 2: Symbol GER40 is already on line 1.",
        ),
        ("[" + json.dumps(ROW) + "", "not readable as JSON"),
        ("[" + json.dumps(ROW) + "] []", "text after the list"),
        ("[" + json.dumps(ROW) + " " + json.dumps(ROW) + "]", "expected , or ]"),
        ("[" + "[" * 100_000 + "]" * 100_000 + "]", "Line 1:"),
    ],
    ids=[
        "object",
        "string",
        "not an object",
        "extra key",
        "missing key",
        "repeated key",
        "boolean",
        "list",
        "NaN",
        "exponent",
        "naive",
        "duplicate",
        "cut short",
        "trailing",
        "no comma",
        "deep",
    ],
)
def test_a_bad_json_feed_is_refused_whole(tmp_path, text, reason):
    said = refused(json_file(tmp_path, text))

    assert reason in said, said
    assert not Quote.objects.exists()


def test_a_json_null_or_empty_percent_is_no_percent(tmp_path):
    rows = [{**ROW, "percent": None}, {**ROW, "symbol": "EURUSD", "percent": ""}]

    load(json_file(tmp_path, json.dumps(rows)))

    assert list(Quote.objects.values_list("percent", flat=True)) == [None, None]


def test_a_missing_file_and_a_folder_are_said_plainly(tmp_path):
    assert "There is no file" in refused(tmp_path / "nope.csv")
    assert "is a folder, not a file" in refused(tmp_path)


# --- In the operator's language -------------------------------------------------------------


def test_it_speaks_japanese_by_default(tmp_path):
    out = io.StringIO()
    call_command("load_quotes", SAMPLE_FEED, stdout=out)
    assert out.getvalue().splitlines()[0] == "追加した相場: 4"

    err = io.StringIO()
    with translation.override("ja"), pytest.raises(CommandError) as error:
        call_command(
            "load_quotes",
            str(csv_file(tmp_path, "GER40,x,1e5,1,1,2021-09-03T16:00:00Z")),
            stderr=err,
        )
    assert (
        "2 行目: last: 「1e5」は 1.18424 や -479.94 のような数値ではありません。" in err.getvalue()
    )
    assert "何も読み込んでいません" in str(error.value)


@pytest.mark.parametrize(
    "language, said", [("ja", "ファイルが空です。"), ("en", "The file is empty.")]
)
def test_a_refused_file_is_said_in_the_language_asked_for(tmp_path, language, said):
    path = tmp_path / "feed.csv"
    path.write_bytes(b"")

    assert said in refused(path, language)
