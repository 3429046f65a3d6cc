"""The ticker on a 375 px phone: its four quotes wrap, nothing runs past the screen's edge, and
a delayed quote says as of when, which a desktop shows on hover."""

import io
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.db.models import F
from django.utils import timezone
from playwright.sync_api import Page, expect

from tests.e2e.test_sign_in_journey import answer_captcha
from tests.helpers import PASSWORD

SAMPLE_FEED = "deploy/samples/quotes.csv"  # what `make run` loads

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

# Every quote's box, and the page's widest point, measured in the browser.
MEASURE = """() => {
  const strip = document.querySelector('.ticker');
  const edge = document.documentElement.clientWidth;
  return {
    page: document.documentElement.scrollWidth,
    edge,
    strip: strip.scrollWidth - strip.clientWidth,
    outside: [...strip.querySelectorAll('.quote, .quote *')]
      .map(el => el.getBoundingClientRect())
      .filter(box => box.left < 0 || box.right > edge + 0.5).length,
  };
}"""


def load_sample(settings) -> None:
    """The sample feed, every quote delayed as of 0:00 on 1 January of this year, shown as
    「1/1 0:00」 (the sample's own date, 2026-12-02, would be another year's in 2027)."""
    from backoffice.models import Quote

    call_command("load_quotes", SAMPLE_FEED, stdout=io.StringIO())
    settings.JENCO_QUOTE_STALE_MINUTES = 0  # delayed the moment the year began
    new_year = timezone.localtime().replace(month=1, day=1, hour=0, minute=0, second=0)
    Quote.objects.update(as_of=new_year.replace(microsecond=0))


@pytest.fixture
def long_quotes(db, settings):
    load_sample(settings)
    from backoffice.models import Quote

    # The widest a feed may write: 12 digits and 8 decimals, a 20-character symbol.
    Quote.objects.filter(symbol="BTCUSD").update(
        symbol="ABCDEFGHIJKLMNOPQRST", last="123456789012.12345678", change="-123456789012.12345678"
    )


def assert_fits(page: Page) -> None:
    measured = page.evaluate(MEASURE)
    assert measured["page"] <= measured["edge"] == 375, measured
    assert measured["strip"] == 0 and measured["outside"] == 0, measured


@pytest.mark.parametrize("language", ["ja-JP", "en-US"])
def test_the_sign_in_pages_strip_fits_a_phone(browser, live_server, long_quotes, language):
    context = browser.new_context(
        base_url=live_server.url, viewport={"width": 375, "height": 812}, locale=language
    )
    page = context.new_page()
    page.goto("/login/")

    expect(page.locator(".ticker .quote")).to_have_count(4)
    assert_fits(page)
    context.close()


def test_the_back_office_headers_strip_fits_a_phone(page, live_server, long_quotes, member):
    page.goto("/login/")
    page.get_by_label("ユーザー名 / ユーザーID").fill("JPN1000001")
    page.get_by_label("パスワード", exact=True).fill(PASSWORD)
    answer_captcha(page)
    page.get_by_role("button", name="ログイン").click()
    expect(page).to_have_url(f"{live_server.url}/backoffice/")

    expect(page.locator(".ticker .quote")).to_have_count(4)
    assert_fits(page)


# How wide each delayed quote's time is drawn (a visually hidden one: 1 px).
AS_OF_WIDTHS = """() => [...document.querySelectorAll('.ticker .as-of')]
  .map(el => el.getBoundingClientRect().width)"""


@pytest.mark.parametrize(
    ("width", "shown", "locale", "time"),
    [
        (375, True, "ja-JP", "遅延 1/1 0:00"),
        (375, True, "en-US", "delayed 1/1 0:00 JST"),
        (1280, False, "ja-JP", ""),
    ],
)
def test_a_delayed_quotes_time_is_shown_where_nothing_hovers(
    browser, live_server, long_quotes, width, shown, locale, time
):
    # Every quote of the sample feed is delayed (load_sample), each a minute apart here (as of one time, one mark says it for all: the next test). Its
    # time was a title only, which a phone cannot hover (helper-97's phone trial).
    from backoffice.models import Quote

    for minutes, quote in enumerate(Quote.objects.order_by("position")):
        Quote.objects.filter(pk=quote.pk).update(as_of=F("as_of") + timedelta(minutes=minutes))
    context = browser.new_context(
        base_url=live_server.url, viewport={"width": width, "height": 812}, locale=locale
    )
    page = context.new_page()
    page.goto("/login/")

    widths = page.evaluate(AS_OF_WIDTHS)
    assert len(widths) == 4
    assert all(w > 20 for w in widths) if shown else all(w <= 1 for w in widths)
    if shown:
        expect(page.locator(".ticker .quote").first).to_contain_text(time)
        assert_fits(page)
        # Each mark in one piece: wrapped as a word would be, it split 遅 from 延.
        pieces = page.evaluate(
            "() => [...document.querySelectorAll('.ticker .stale-mark')]"
            ".map(el => el.getClientRects().length)"
        )
        assert pieces == [1, 1, 1, 1]
    context.close()


@pytest.mark.parametrize(
    ("width", "locale", "mark"),
    [(375, "ja-JP", "すべて遅延 1/1 0:00"), (375, "en-US", "all delayed 1/1 0:00 JST")],
)
def test_quotes_delayed_as_of_one_time_share_one_mark_on_a_line_of_its_own(
    browser, live_server, long_quotes, width, locale, mark
):
    # Four marks took four lines of a phone (helper-131); one beside the last quote read as
    # that quote's own.
    context = browser.new_context(
        base_url=live_server.url, viewport={"width": width, "height": 812}, locale=locale
    )
    page = context.new_page()
    page.goto("/login/")
    expect(page.locator(".ticker .delayed-all")).to_have_text(mark)
    expect(page.locator(".ticker .stale-mark")).to_have_count(1)
    boxes = page.evaluate(
        "() => [...document.querySelectorAll('.ticker li')].map(el => {"
        " const box = el.getBoundingClientRect(); return [box.top, box.bottom]; })"
    )
    assert boxes[-1][0] >= max(bottom for _, bottom in boxes[:-1]), boxes
    assert_fits(page)
    context.close()


@pytest.fixture
def sample_quotes(db, settings):
    load_sample(settings)


@pytest.mark.parametrize("width", [1280, 1440])
@pytest.mark.parametrize("language", ["ja-JP", "en-US"])
def test_on_a_desktop_the_strip_keeps_to_one_line(
    browser, live_server, sample_quotes, width, language
):
    # In English the fourth quote went to a second line up to 1440 px (helper-131), where
    # the README says the strip keeps to one line on a desktop's screen (narrower, as on a
    # tablet, it wraps two quotes a line).
    context = browser.new_context(
        base_url=live_server.url, viewport={"width": width, "height": 800}, locale=language
    )
    page = context.new_page()
    page.goto("/login/")
    tops = page.evaluate(
        "() => [...document.querySelectorAll('.ticker li')]"
        ".map(el => Math.round(el.getBoundingClientRect().top))"
    )
    assert len(tops) == 5 and len(set(tops)) == 1, tops  # four quotes and "all delayed"
    context.close()
