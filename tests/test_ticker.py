"""The market ticker (issue 15): four quotes under the top bar, from our own table, loaded by
`manage.py load_quotes` or edited in admin; no query per page while the quotes stay the same."""

import datetime
import io
import json
import re
from pathlib import Path

import pytest
from django.core.cache import cache
from django.core.management import CommandError, call_command
from django.db import connection
from django.db.models import F
from django.test.utils import CaptureQueriesContext
from django.utils import timezone, translation
from django.utils.formats import date_format

from backoffice import ticker
from backoffice.models import Quote

pytestmark = pytest.mark.django_db

SAMPLE = Path(__file__).resolve().parent.parent / "deploy" / "samples" / "quotes.csv"
HEADER = "symbol,name,last,change,percent,as_of\n"


@pytest.fixture(autouse=True)
def _fresh_cache():
    cache.clear()
    yield
    cache.clear()


def load(path, language="en") -> str:
    out = io.StringIO()
    call_command("load_quotes", str(path), language=language, stdout=out)
    return out.getvalue().strip()


def fresh_sample(tmp_path, minutes_ago=1) -> Path:
    """The sample feed, timed `minutes_ago`."""
    when = (timezone.now() - datetime.timedelta(minutes=minutes_ago)).isoformat()
    text = re.sub(r"2026-12-02T09:30:00\+09:00", when, SAMPLE.read_text())
    path = tmp_path / "quotes.csv"
    path.write_text(text)
    return path


def strip(page: str) -> str:
    found = re.search(r'<section class="ticker".*?</section>', page, re.S)
    return found[0] if found else ""


def words(html: str) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


@pytest.mark.parametrize(("language", "up", "down"), [("ja", "上昇", "下落"), ("en", "up", "down")])
def test_the_sign_in_page_shows_the_seeds_four_quotes(client, tmp_path, language, up, down):
    load(fresh_sample(tmp_path))
    ticker = strip(client.get("/login/", headers={"accept-language": language}).content.decode())
    assert words(ticker) == (
        f"NIKKEI Nikkei 225 futures 15676.9 ▲ {up} +5.0 (+0.03%) "
        f"EURUSD Euro / US dollar 1.18424 ▼ {down} -0.00024 (-0.02%) "
        f"BTCUSD Bitcoin / US dollar 46386.88 ▼ {down} -479.94 (-1.02%) "
        f"SPX S&amp;P 500 3440.61 ▲ {up} +11.00"
    )
    # Each instrument's name, read out by a screen reader: a title is read by none, and is
    # shown only on hover. Only the symbol is drawn (the strip has no room for more).
    assert ticker.count('<span class="visually-hidden"> Nikkei 225 futures</span>') == 1
    # Up and down are told apart by more than colour: an arrow, a sign and a word.
    assert ticker.count('class="quote up"') == 2 and ticker.count('class="quote down"') == 2


def test_pages_in_both_languages_one_after_another_each_show_their_own_words(
    client, member, tmp_path
):
    """The strip's HTML is kept a few seconds per language (ticker.strip): a Japanese page
    right after an English one, signed in or not, still reads in Japanese."""
    from django.test import Client

    load(fresh_sample(tmp_path))
    signed_in = Client()
    signed_in.force_login(member)
    for language, up, other in [("en", "up", "上昇"), ("ja", "上昇", "up"), ("en", "up", "上昇")]:
        for browser, path in ((client, "/login/"), (signed_in, "/backoffice/")):
            browser.cookies.pop("django_language", None)
            page = browser.get(path, headers={"accept-language": language}).content.decode()
            shown = words(strip(page))
            assert f"{up} +5.0" in shown and f"{other} +5.0" not in shown


def test_the_back_office_header_shows_them_too(member_client, tmp_path):
    load(fresh_sample(tmp_path))
    assert "NIKKEI" in strip(member_client.get("/backoffice/").content.decode())


def as_of_shown(as_of, language: str) -> str:
    """A delayed mark's time as it reads (12/2 9:30, with JST in English), or the whole date
    for a quote from another year: 31 minutes before 00:20 on 1 January is one."""
    as_of = timezone.localtime(as_of)
    this_year = as_of.year == timezone.localtime().year
    with translation.override(language):
        return date_format(as_of, "SHORT_DATETIME_FORMAT" if this_year else "DATETIME_FORMAT")


def marks(ticker: str, time_class: str) -> list[tuple[str, str, str]]:
    """Each delayed mark of one kind in the strip: (word, datetime, time as shown)."""
    pattern = rf'>([^<>]+)<span class="{time_class}"> <time datetime="([^"]+)">([^<]+)</time>'
    return re.findall(pattern, ticker)


def quotes_of(ticker: str) -> list[str]:
    return re.findall(r'<li class="quote[^"]*">.*?</li>', ticker)


@pytest.mark.parametrize(
    ("language", "mark", "together", "zone"),
    [("ja", "遅延", "すべて遅延", ""), ("en", "delayed", "all delayed", " JST")],
)
def test_a_quote_older_than_the_setting_is_marked_delayed(
    client, tmp_path, settings, language, mark, together, zone
):
    settings.JENCO_QUOTE_STALE_MINUTES = 30
    load(fresh_sample(tmp_path, minutes_ago=31))
    Quote.objects.filter(symbol="SPX").update(as_of=F("as_of") - datetime.timedelta(minutes=5))
    as_of = timezone.localtime(Quote.objects.get(symbol="NIKKEI").as_of)
    ticker = strip(client.get("/login/", headers={"accept-language": language}).content.decode())
    # With its time in words too: a title shows only on hover, which a phone has not. In
    # English the zone is named, as every time is there: the reader may be abroad.
    shown = (mark, f"{as_of:%Y-%m-%dT%H:%M:%S%z}", as_of_shown(as_of, language))
    assert shown[2].endswith(zone)
    assert marks(ticker, "as-of")[:3] == [shown] * 3 and len(marks(ticker, "as-of")) == 4
    assert all(" stale" in quote for quote in quotes_of(ticker))
    assert together not in ticker
    load(fresh_sample(tmp_path, minutes_ago=5))
    assert mark not in strip(
        client.get("/login/", headers={"accept-language": language}).content.decode()
    )


@pytest.mark.parametrize(
    ("language", "together", "zone"), [("ja", "すべて遅延", ""), ("en", "all delayed", " JST")]
)
def test_quotes_all_delayed_as_of_one_time_get_one_mark(
    client, tmp_path, settings, language, together, zone
):
    # A feed that stopped: the same mark four times took four lines of a phone (helper-131).
    settings.JENCO_QUOTE_STALE_MINUTES = 30
    load(fresh_sample(tmp_path, minutes_ago=31))
    as_of = timezone.localtime(Quote.objects.get(symbol="NIKKEI").as_of)
    ticker = strip(client.get("/login/", headers={"accept-language": language}).content.decode())
    when = as_of_shown(as_of, language)
    assert when.endswith(zone)
    assert marks(ticker, "as-of-all") == [(together, f"{as_of:%Y-%m-%dT%H:%M:%S%z}", when)]
    assert marks(ticker, "as-of") == []
    assert ticker.index('class="delayed-all"') > ticker.rindex('<li class="quote')
    assert all(" stale" in quote for quote in quotes_of(ticker))


def test_only_the_delayed_quotes_are_marked(client, tmp_path, settings):
    settings.JENCO_QUOTE_STALE_MINUTES = 30
    load(fresh_sample(tmp_path, minutes_ago=5))
    Quote.objects.filter(symbol="SPX").update(as_of=F("as_of") - datetime.timedelta(minutes=40))
    ticker = strip(client.get("/login/").content.decode())
    marked = [quote for quote in quotes_of(ticker) if "遅延" in quote]
    assert len(marked) == 1 and ">SPX<" in marked[0] and "delayed-all" not in ticker


@pytest.mark.parametrize(
    ("language", "shown"),
    [
        ("ja", "{0.year}年{0.month}月{0.day}日 {0:%H:%M}"),
        ("en", " {0.day}, {0.year}, {0:%H:%M} JST"),  # after the month's name
    ],
)
def test_a_quote_from_another_year_shows_its_year(client, tmp_path, language, shown):
    # "12/2 9:30" alone read the same for a feed stopped a year ago (helper-131).
    load(fresh_sample(tmp_path, minutes_ago=400 * 24 * 60))
    as_of = timezone.localtime(Quote.objects.get(symbol="NIKKEI").as_of)
    ticker = strip(client.get("/login/", headers={"accept-language": language}).content.decode())
    assert len(re.findall(f">[^<]*{shown.format(as_of)}</time>", ticker)) == 1


def test_no_quotes_no_strip(client, member_client):
    assert strip(client.get("/login/").content.decode()) == ""
    assert 'class="ticker"' not in member_client.get("/backoffice/").content.decode()


def test_a_page_reads_the_quotes_once_until_they_change(
    member_client, tmp_path, django_assert_num_queries, django_capture_on_commit_callbacks
):
    member_client.get("/backoffice/")
    with CaptureQueriesContext(connection) as before:  # the member (and session), no quotes
        member_client.get("/backoffice/profile/")
    baseline = len(before)  # now: the next request empties the log it reads
    load(fresh_sample(tmp_path))
    member_client.get("/backoffice/")  # reads them once
    with django_assert_num_queries(baseline):  # the same: the quotes come from the cache
        page = member_client.get("/backoffice/profile/").content.decode()
    assert "NIKKEI" in strip(page)
    quote = Quote.objects.get(symbol="NIKKEI")
    quote.last = "15700.1"
    with django_capture_on_commit_callbacks(execute=True):
        quote.save()  # as admin does: the cache is cleared when it commits
    assert "15700.1" in strip(member_client.get("/backoffice/profile/").content.decode())


def test_a_save_while_another_page_renders_the_strip_shows_at_once(
    member_client, tmp_path, monkeypatch, django_capture_on_commit_callbacks
):
    """App servers run several threads: a page rendering the strip from the old quotes while
    a save (and a page after it) happen in this process must not keep that old strip for the
    seconds the process keeps its copy."""
    load(fresh_sample(tmp_path))
    render = ticker.render_to_string
    saved = []

    def render_while_saving(*args, **kwargs):
        html = render(*args, **kwargs)  # the old quotes
        if not saved:  # meanwhile, another thread: a save, and a page that reads anew
            saved.append(True)
            quote = Quote.objects.get(symbol="NIKKEI")
            quote.last = "15700.1"
            with django_capture_on_commit_callbacks(execute=True):
                quote.save()
            ticker.strip()  # a page in this process reads them anew
        return html

    monkeypatch.setattr(ticker, "render_to_string", render_while_saving)
    assert "15676.9" in strip(member_client.get("/backoffice/").content.decode())
    assert "15700.1" in strip(member_client.get("/backoffice/").content.decode())


def test_the_blank_sign_in_page_shows_the_quotes_as_they_are_now(client, tmp_path, monkeypatch):
    """The sign-in page is served from a copy rendered once (accounts/pages.py): the quotes
    are filled in per request, never frozen into the copy. A change another app server
    makes shows here within the seconds this process keeps what it read."""
    client.get("/login/")  # the copy, made before any quote exists
    load(fresh_sample(tmp_path))
    assert "15676.9" in strip(client.get("/login/").content.decode())
    Quote.objects.filter(symbol="NIKKEI").update(last="1.5")  # behind the cache's back...
    cache.clear()  # ...as another app server's save would clear the shared cache
    assert "15676.9" in strip(client.get("/login/").content.decode())  # kept a moment here
    later = ticker.time.monotonic() + ticker.LOCAL_SECONDS + 1
    monkeypatch.setattr(ticker.time, "monotonic", lambda: later)
    assert "NIKKEI Nikkei 225 futures 1.5 " in words(strip(client.get("/login/").content.decode()))


def test_pages_within_a_few_seconds_do_not_ask_the_shared_cache(client, tmp_path, monkeypatch):
    load(fresh_sample(tmp_path))
    client.get("/login/")
    asked = []
    monkeypatch.setattr(cache, "get", lambda *args, **kwargs: asked.append(args))
    for _ in range(3):
        assert "15676.9" in strip(client.get("/login/").content.decode())
    assert asked == []


# --- manage.py load_quotes ----------------------------------------------------------------


def test_loading_the_same_file_twice_changes_nothing(tmp_path):
    path = fresh_sample(tmp_path)
    assert load(path) == "Loaded 4 quotes: 4 new, 0 updated, 0 unchanged."
    before = list(Quote.objects.values())
    assert load(path) == "Loaded 4 quotes: 0 new, 0 updated, 4 unchanged."
    assert list(Quote.objects.values()) == before
    assert (
        load(path, language="ja")
        == "4件の相場を読み込みました（新規 0件、更新 0件、変更なし 4件）。"
    )


def test_a_new_quote_replaces_the_last_one_and_json_works_too(tmp_path):
    load(fresh_sample(tmp_path))
    feed = tmp_path / "quotes.json"
    feed.write_text(
        json.dumps(
            [
                {
                    "symbol": "NIKKEI",
                    "name": "Nikkei 225 futures",
                    "last": "15690.0",
                    "change": "+18.1",
                    "percent": "+0.12",
                    "as_of": timezone.now().isoformat(),
                }
            ]
        )
    )
    assert load(feed) == "Loaded 1 quotes: 0 new, 1 updated, 0 unchanged."
    assert Quote.objects.get(symbol="NIKKEI").last == "15690.0"
    assert Quote.objects.count() == 4


NOW = "2026-12-02T09:30:00+09:00"
GOOD = f"N225,Nikkei,15676.9,+5.0,+0.03,{NOW}\n"


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        ("", "The file is empty."),
        ("symbol,name,last,change,as_of\n" + f"N225,Nikkei,1,2,{NOW}\n", "missing: percent"),
        (HEADER.strip() + ",volume\n", "unknown: volume"),
        (HEADER + GOOD + f"X,Y,abc,+1,,{NOW}\n", "line 3: last: not a number ('abc')"),
        (HEADER + f"X,Y,-5,+1,,{NOW}\n", "line 2: last: a price has no sign."),
        (
            HEADER + "X,Y,5,+1,,2026-12-02T09:30:00\n",
            "line 2: as_of: a date and time with its UTC offset",
        ),
        (HEADER + "X,Y,5,+1,,yesterday\n", "line 2: as_of"),
        (HEADER + GOOD + GOOD, "line 3: N225 is already on line 2."),
        (HEADER + f"X,Y,5,+1,{NOW}\n", "line 2: 5 fields, the header has 6."),
        (HEADER + f",Y,5,+1,,{NOW}\n", "line 2: symbol: 1 to 20 characters."),
        (HEADER + f"X,Y,1e9,+1,,{NOW}\n", "line 2: last: not a number"),
        (HEADER + f"X,Y,5,＋１,,{NOW}\n", "line 2: change: not a number"),
        ('{"symbol": "X"}', "A JSON feed is a list of objects."),
        ("[1]", "item 1: not an object."),
        ('[{"symbol": "X"}]', "item 1: the columns must be"),
        ("[{", "line 1: not JSON"),
    ],
    ids=[
        "empty",
        "missing column",
        "unknown column",
        "bad number",
        "signed price",
        "naive date",
        "not a date",
        "duplicate symbol",
        "short row",
        "no symbol",
        "exponent",
        "full-width sign",
        "JSON not a list",
        "JSON item not an object",
        "JSON wrong keys",
        "broken JSON",
    ],
)
def test_a_bad_feed_loads_nothing_and_names_the_line_and_reason(tmp_path, content, reason):
    load(fresh_sample(tmp_path))
    before = list(Quote.objects.values())
    feed = tmp_path / "bad.csv"
    feed.write_text(content, encoding="utf-8")
    with pytest.raises(CommandError) as refused:
        load(feed)
    assert str(refused.value).startswith("Nothing was loaded. ") and reason in str(refused.value)
    assert list(Quote.objects.values()) == before


def test_not_utf8_huge_or_missing_files_are_refused_in_the_operators_language(tmp_path):
    latin1 = tmp_path / "latin1.csv"
    latin1.write_bytes((HEADER + GOOD.replace("Nikkei", "Nikkéi")).encode("latin-1"))
    with pytest.raises(CommandError, match=r"ファイルがUTF-8ではありません（\d+バイト目）。"):
        load(latin1, language="ja")
    huge = tmp_path / "huge.csv"
    huge.write_text(HEADER + GOOD * 20_000)
    with pytest.raises(CommandError, match="larger than 1000000 bytes"):
        load(huge)
    with pytest.raises(CommandError, match="Cannot read"):
        load(tmp_path / "missing.csv")
    assert not Quote.objects.exists()


def test_a_bom_is_fine(tmp_path):
    feed = tmp_path / "bom.csv"
    feed.write_bytes(("\ufeff" + HEADER + GOOD).encode("utf-8"))
    assert load(feed) == "Loaded 1 quotes: 1 new, 0 updated, 0 unchanged."


# --- admin --------------------------------------------------------------------------------


# Admin's quote form as staff fill it in.
ADMIN_FORM = {
    "symbol": "SPX",
    "name": "S&P 500",
    "last": "3450.00",
    "change": "+20.39",
    "percent": "",
    "as_of_0": "2026-12-02",
    "as_of_1": "09:30:00",
    "position": "3",
}


def test_staff_correct_a_quote_in_admin_and_a_bad_number_is_refused(client, staff, tmp_path):
    client.force_login(staff)
    load(fresh_sample(tmp_path))
    quote = Quote.objects.get(symbol="SPX")
    url = f"/admin/backoffice/quote/{quote.pk}/change/"
    assert client.post(url, ADMIN_FORM).status_code == 302
    assert Quote.objects.get(pk=quote.pk).last == "3450.00"
    refused = client.post(url, ADMIN_FORM | {"last": "lots"})
    assert refused.status_code == 200 and Quote.objects.get(pk=quote.pk).last == "3450.00"


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (HEADER + "X,Y,5,+1,,0001-01-01T00:00:00+09:00\n", "line 2: as_of"),
        (HEADER + "X,Y,5,+1,,9999-12-31T23:59:59-23:59\n", "line 2: as_of"),
        (HEADER + f"X,Y,１２３,+1,,{NOW}\n", "line 2: last: not a number"),
        (HEADER + f"X,Y\x00Z,5,+1,,{NOW}\n", "line 2: name: at most 100 printable characters."),
        ("[" * 100_000 + "]" * 100_000, "not JSON (nested too deep, or a number too long)"),
        ('[{"symbol": "X", "name": "Y", "last": ' + "1" * 5000 + "}]", "not JSON"),
        ('[{"symbol": "A", "symbol": "B"}]', "the key symbol appears twice in one object"),
    ],
    ids=[
        "year 1",
        "year 10000 in UTC",
        "full-width digits",
        "NUL in name",
        "deep JSON",
        "long number",
        "repeated key",
    ],
)
def test_hostile_feeds_are_refused_with_a_reason_not_a_traceback(tmp_path, content, reason):
    feed = tmp_path / "hostile.json"
    feed.write_text(content, encoding="utf-8")
    with pytest.raises(CommandError, match=re.escape(reason)):
        load(feed)
    assert not Quote.objects.exists()


def test_admin_refuses_a_quote_time_no_page_could_show(client, staff):
    client.force_login(staff)
    data = ADMIN_FORM | {"as_of_0": "0001-01-01"}
    response = client.post("/admin/backoffice/quote/add/", data)
    assert response.status_code == 200 and not Quote.objects.exists()


@pytest.mark.parametrize("field", ["symbol", "name"])
@pytest.mark.parametrize("hidden", ["\u202e", "\u3164", "\u2800"], ids=["RLO", "filler", "blank"])
def test_admin_refuses_a_quote_name_that_would_rewrite_the_strip(client, staff, field, hidden):
    # A right-to-left override reverses what follows it on every sign-in page (helper-113);
    # the feed refused it, admin did not. A Hangul filler or a blank Braille pattern shows as
    # nothing (helper-119).
    client.force_login(staff)
    data = ADMIN_FORM | {field: f"S&P{hidden}005"}
    response = client.post("/admin/backoffice/quote/add/", data)
    assert response.status_code == 200 and not Quote.objects.exists()
    assert "制御文字や見えない文字は使えません" in response.content.decode()


def test_a_quote_name_with_a_full_width_space_is_taken(client, staff):
    # 「日経 平均」 typed with a Japanese keyboard's space: a space is not a hidden character.
    client.force_login(staff)
    data = ADMIN_FORM | {"name": "日経\u3000平均\u00a0先物"}
    assert client.post("/admin/backoffice/quote/add/", data).status_code == 302
    assert Quote.objects.get().name == "日経\u3000平均\u00a0先物"
