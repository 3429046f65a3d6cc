"""The market ticker: four quotes above the sign-in box and in the back office header (seed p.1)."""

import datetime
import io
import re
import time
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from backoffice.models import Quote
from tests.conftest import BACKOFFICE_PAGES, PASSWORD, SAMPLE_FEED, solved_captcha

pytestmark = pytest.mark.django_db

# The seed's strip, as a member reads it (sign, digits and percentage as the feed gave them).
SEED_STRIP = [
    "GER40 15676.9 +5.0 (+0.03%)",
    "EURUSD 1.18424 -0.00024 (-0.02%)",
    "BTCUSD 46386.88 -479.94 (-1.02%)",
    "ETHUSD 3440.61 +11.00",
]


@pytest.fixture
def quotes():
    call_command("load_quotes", SAMPLE_FEED, stdout=io.StringIO())
    Quote.objects.update(as_of=timezone.now())  # fresh: no stale mark
    return Quote.objects.all()


def strip_of(page: str) -> str | None:
    found = re.search(r'<ul class="ticker".*?</ul>', page, re.S)
    return found[0] if found else None


def read_quotes(page: str) -> list[str]:
    """Each quote as a sighted member reads it: the hidden words and the arrow left out."""
    items = re.findall(r"<li.*?</li>", strip_of(page), re.S)
    read = []
    for item in items:
        item = re.sub(r'<span class="(visually-hidden|quote-arrow)"[^>]*>[^<]*</span>', "", item)
        read.append(" ".join(re.sub(r"<[^>]+>", " ", item).split()))
    return read


def heard(page: str) -> list[str]:
    """What a screen reader says of each quote's change: the word, not the arrow."""
    items = re.findall(r'<span class="quote-change">(.*?)</li>', strip_of(page), re.S)
    return [
        " ".join(
            re.sub(r"<[^>]+>", " ", re.sub(r"<span[^>]*aria-hidden[^>]*>.*?</span>", "", i)).split()
        )
        for i in items
    ]


def test_the_sign_in_page_shows_the_seeds_four_quotes_above_the_sign_in_box(client, quotes):
    page = client.get("/login/").content.decode()

    assert read_quotes(page) == SEED_STRIP
    assert page.index('<ul class="ticker"') < page.index('<section class="card">')
    assert 'aria-label="相場"' in strip_of(page)


@pytest.mark.parametrize(
    "language, words",
    [("ja", ["上昇", "下落", "下落", "上昇"]), ("en", ["up", "down", "down", "up"])],
)
def test_up_and_down_are_said_in_words_not_only_shown_in_colour(client, quotes, language, words):
    page = client.get("/login/", headers={"accept-language": language}).content.decode()

    said = heard(page)
    assert [phrase.split()[0] for phrase in said] == words
    assert said[0] == f"{words[0]} +5.0 (+0.03%)"
    assert strip_of(page).count('aria-hidden="true">▲') == 2
    assert strip_of(page).count('aria-hidden="true">▼') == 2


@pytest.mark.parametrize("language, word", [("ja", "変わらず"), ("en", "unchanged")])
def test_no_change_is_neither_up_nor_down(client, quotes, language, word):
    Quote.objects.filter(symbol="GER40").update(change="-0.0", percent="0.00")

    page = client.get("/login/", headers={"accept-language": language}).content.decode()

    assert read_quotes(page)[0] == "GER40 15676.9 0.0 (0.00%)"
    assert heard(page)[0] == f"{word} 0.0 (0.00%)"
    assert '<li class="quote flat">' in page


@pytest.mark.parametrize("path", BACKOFFICE_PAGES)
def test_every_back_office_page_shows_the_strip_in_its_header(member_client, quotes, path):
    page = member_client.get(path).content.decode()

    header = page[page.index('<header class="topbar">') : page.index("</header>")]
    assert read_quotes(header) == SEED_STRIP


def test_with_no_quotes_there_is_no_strip_at_all(client, member):
    assert 'class="ticker' not in client.get("/login/").content.decode()
    client.force_login(member)
    assert 'class="ticker' not in client.get("/backoffice/").content.decode()


def test_the_strip_shows_four_quotes_in_their_order(client, quotes):
    Quote.objects.create(
        symbol="XAUUSD", name="Gold", last="1800.10", change="1.00", as_of=timezone.now()
    )
    Quote.objects.filter(symbol="ETHUSD").update(position=0)

    symbols = [q.split()[0] for q in read_quotes(client.get("/login/").content.decode())]

    assert symbols == ["ETHUSD", "XAUUSD", "GER40", "EURUSD"]


# --- Stale quotes ---------------------------------------------------------------------------


@pytest.mark.parametrize("language, mark", [("ja", "時点"), ("en", "as of")])
def test_a_quote_older_than_the_configured_age_is_marked(client, quotes, settings, language, mark):
    settings.JENCO_QUOTE_STALE_MINUTES = 15
    old = datetime.datetime(2021, 9, 3, 7, 0, tzinfo=datetime.UTC)  # 16:00 in Tokyo
    Quote.objects.filter(symbol="EURUSD").update(as_of=old)
    Quote.objects.filter(symbol="GER40").update(
        as_of=timezone.now() - datetime.timedelta(minutes=14)
    )

    page = client.get("/login/", headers={"accept-language": language}).content.decode()

    stale = re.findall(r'<li class="quote (\w+)( stale)?">', page)
    assert [s for _d, s in stale] == ["", " stale", "", ""]
    assert "2021-09-03 16:00" in strip_of(page)
    assert strip_of(page).count(mark) == 1


def test_a_quote_is_marked_as_soon_as_it_turns_stale_whatever_the_cache(client, quotes, settings):
    settings.JENCO_QUOTE_STALE_MINUTES = 1
    Quote.objects.update(as_of=timezone.now() - datetime.timedelta(seconds=58))
    assert " stale" not in strip_of(client.get("/login/").content.decode())

    time.sleep(2.5)

    assert strip_of(client.get("/login/").content.decode()).count(" stale") == 4


# --- Cost: the strip comes from the cache ---------------------------------------------------


def statements(client, path: str) -> int:
    with CaptureQueriesContext(connection) as captured:
        assert client.get(path).status_code == 200
    return len(captured)


def test_the_sign_in_page_runs_no_query_for_the_strip_once_it_is_cached(
    client, quotes, django_assert_num_queries
):
    first = statements(client, "/login/")

    with django_assert_num_queries(1):  # the captcha's row, as with no ticker at all
        page = client.get("/login/").content.decode()

    assert read_quotes(page) == SEED_STRIP
    assert first == 2  # the one SELECT of the quotes, the first time only


def test_a_signed_in_page_runs_no_query_for_the_strip_once_it_is_cached(
    client, member, quotes, django_assert_num_queries
):
    client.force_login(member)
    Quote.objects.all().delete()
    statements(client, "/backoffice/")  # the first view after sign-in does more
    without_quotes = statements(client, "/backoffice/")
    call_command("load_quotes", SAMPLE_FEED, stdout=io.StringIO())
    statements(client, "/backoffice/")  # renders and caches the strip

    with django_assert_num_queries(without_quotes):
        page = client.get("/backoffice/").content.decode()

    assert read_quotes(page)[0].startswith("GER40 15676.9")


def test_a_language_has_its_own_cached_strip(client, quotes, django_assert_num_queries):
    client.get("/login/")
    client.get("/login/", headers={"accept-language": "en"})

    with django_assert_num_queries(1):
        ja = client.get("/login/").content.decode()
    with django_assert_num_queries(1):
        en = client.get("/login/", headers={"accept-language": "en"}).content.decode()

    assert "上昇" in strip_of(ja) and ">up<" not in strip_of(ja)
    assert ">up<" in strip_of(en) and "上昇" not in strip_of(en)


def test_an_admin_edit_shows_at_once(client, quotes, staff):
    client.get("/login/")  # the strip is cached
    client.force_login(staff)
    ger = Quote.objects.get(symbol="GER40")
    response = client.post(
        f"/admin/backoffice/quote/{ger.pk}/change/",
        {
            "symbol": "GER40",
            "name": "Germany 40",
            "last": "15700.25",
            "change": "-12.50",
            "percent": "-0.08",
            "as_of_0": timezone.localdate().isoformat(),
            "as_of_1": timezone.localtime().strftime("%H:%M:%S"),
            "position": "1",
        },
    )
    assert response.status_code == 302
    client.logout()

    assert (
        read_quotes(client.get("/login/").content.decode())[0] == "GER40 15700.25 -12.50 (-0.08%)"
    )


def test_deleting_every_quote_removes_the_strip_at_once(client, quotes):
    client.get("/login/")

    Quote.objects.all().delete()

    assert strip_of(client.get("/login/").content.decode()) is None


def test_a_load_shows_at_once(client, quotes, tmp_path):
    client.get("/login/")
    feed = tmp_path / "feed.csv"
    feed.write_text(
        "symbol,name,last,change,percent,as_of\n"
        f"GER40,Germany 40,15680.0,8.1,0.05,{timezone.now().isoformat()}\n",
        encoding="utf-8",
    )

    call_command("load_quotes", str(feed), stdout=io.StringIO())

    assert read_quotes(client.get("/login/").content.decode())[0] == "GER40 15680.0 +8.1 (+0.05%)"


def test_it_works_with_the_database_cache(client, quotes, settings):
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.db.DatabaseCache",
            "LOCATION": "jenco_ticker_test_cache",
        }
    }
    call_command("createcachetable", verbosity=0)
    assert read_quotes(client.get("/login/").content.decode()) == SEED_STRIP

    Quote.objects.filter(symbol="ETHUSD").update(last="3500.00")  # no signal: still cached
    assert read_quotes(client.get("/login/").content.decode())[3] == "ETHUSD 3440.61 +11.00"
    Quote.objects.get(symbol="ETHUSD").save()  # as admin saves it

    assert read_quotes(client.get("/login/").content.decode())[3] == "ETHUSD 3500.00 +11.00"


# --- What the feed says, shown as it is -----------------------------------------------------


def test_prices_keep_the_precision_the_feed_gave(quotes):
    eth = Quote.objects.get(symbol="ETHUSD")

    assert eth.change == Decimal("11.00") and str(eth.change) == "11.00"
    assert eth.percent is None
    assert str(Quote.objects.get(symbol="EURUSD").last) == "1.18424"


def test_a_hostile_name_is_text_not_markup(client, quotes):
    Quote.objects.filter(symbol="GER40").update(name='"><script>alert(1)</script>')

    page = client.get("/login/").content.decode()

    assert "<script>alert" not in page
    assert 'title="&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;"' in strip_of(page)


def test_the_sign_in_still_works_beneath_the_strip(client, member, quotes):
    response = client.post(
        "/login/", {"username": "JPN1000001", "password": PASSWORD, **solved_captcha()}
    )

    assert response["Location"] == "/backoffice/"


# --- Admin ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "language, labels",
    [
        ("ja", ["銘柄コード", "現在値", "前日比", "騰落率（%）", "時点"]),
        ("en", ["Symbol", "Last price", "Change", "Change (%)", "As of"]),
    ],
)
def test_staff_edit_quotes_in_admin_in_their_language(client, staff, quotes, language, labels):
    staff.preferred_language = language
    staff.save()
    client.force_login(staff)
    client.cookies["django_language"] = language

    page = client.get(f"/admin/backoffice/quote/{quotes.get(symbol='GER40').pk}/change/")

    for label in labels:
        assert f">{label}" in page.content.decode(), label


def test_admin_refuses_a_price_that_is_not_a_plain_number(client, staff, quotes):
    client.force_login(staff)
    eur = quotes.get(symbol="EURUSD")

    response = client.post(
        f"/admin/backoffice/quote/{eur.pk}/change/",
        {
            "symbol": "EURUSD",
            "name": "Euro / US Dollar",
            "last": "1e5",
            "change": "-0.00024",
            "percent": "",
            "as_of_0": "2021-09-03",
            "as_of_1": "16:00:00",
            "position": "2",
        },
    )

    assert response.status_code == 200
    assert "1.18424 や -479.94 のような数値ではありません" in response.content.decode()
    assert str(Quote.objects.get(symbol="EURUSD").last) == "1.18424"
