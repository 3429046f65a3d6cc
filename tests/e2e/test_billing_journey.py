"""A member opens 請求書 on a phone: the list fits the screen, an invoice prints bare, the PDF
downloads (issue 15)."""

import datetime
import re

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from backoffice.models import Invoice
from tests.e2e.test_sign_in_journey import answer_captcha
from tests.helpers import PASSWORD

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

LONGEST_NUMBER = "INV-2026-12-000000000000000000001"[:32]  # as long as a number may be


def sign_in(page) -> None:
    page.goto("/login/")
    page.get_by_label("ユーザー名 / ユーザーID").fill("JPN1000001")
    page.get_by_label("パスワード", exact=True).fill(PASSWORD)
    answer_captcha(page)
    page.get_by_role("button", name="ログイン").click()
    expect(page).to_have_url(re.compile(r"/backoffice/$"))


def no_horizontal_overflow(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def test_a_member_reads_the_billing_tab_on_a_phone_and_downloads_a_pdf(
    page, live_server, member, console_errors
):
    today = timezone.localdate()
    Invoice.objects.create(
        member=member,
        number=LONGEST_NUMBER,
        issued=today - datetime.timedelta(days=40),
        due=today - datetime.timedelta(days=10),
        amount_yen=123_456_789_012,
        status="open",
    )
    Invoice.objects.create(
        member=member, number="INV-0001", issued=today, due=today, amount_yen=0, status="paid"
    )
    sign_in(page)
    page.goto("/backoffice/profile/")
    page.get_by_role("link", name="請求書").click()

    expect(page).to_have_url(re.compile(r"/backoffice/billing/$"))
    expect(page.get_by_text("123,456,789,012円")).to_be_visible()
    expect(page.get_by_text("期限超過")).to_be_visible()
    assert no_horizontal_overflow(page)
    # 「未払い」 beside its overdue badge, both on the right (helper-97: spread across the row).
    status = page.locator("tr.is-overdue .status").bounding_box()
    badge = page.locator("tr.is-overdue .overdue").bounding_box()
    assert 0 <= badge["x"] - (status["x"] + status["width"]) <= 12

    page.get_by_role("link", name=LONGEST_NUMBER).click()
    expect(page.get_by_role("heading", name=re.compile(LONGEST_NUMBER))).to_be_visible()
    assert no_horizontal_overflow(page)

    page.emulate_media(media="print")
    expect(page.locator(".topbar")).to_be_hidden()
    expect(page.get_by_role("link", name="PDFをダウンロード")).to_be_hidden()
    expect(page.get_by_text("123,456,789,012円")).to_be_visible()
    page.emulate_media(media="screen")

    with page.expect_download() as download:
        page.get_by_role("link", name="PDFをダウンロード").click()
    assert download.value.suggested_filename == f"invoice-{LONGEST_NUMBER}.pdf"
    with open(download.value.path(), "rb") as pdf:
        assert pdf.read(5) == b"%PDF-"
    assert console_errors == []


def test_the_empty_billing_tab_fits_a_phone_too(page, live_server, member, console_errors):
    sign_in(page)
    page.goto("/backoffice/billing/")
    expect(page.get_by_text("請求書はまだありません。")).to_be_visible()
    assert no_horizontal_overflow(page)
    assert console_errors == []


TAP_HEIGHTS = """selector => [...document.querySelectorAll(selector)].map(
  link => [link.textContent.trim(), link.getBoundingClientRect().height])"""


def test_every_invoice_link_is_a_thumb_high_on_a_phone(page, live_server, member, console_errors):
    today = timezone.localdate()
    for n in range(3):
        Invoice.objects.create(
            member=member, number=f"INV-000{n}", issued=today, due=today, amount_yen=1000
        )
    sign_in(page)
    heights = page.evaluate(TAP_HEIGHTS, ".latest-invoices a, .all-invoices a")
    page.goto("/backoffice/billing/")
    heights += page.evaluate(TAP_HEIGHTS, ".invoices a")
    page.goto("/backoffice/billing/INV-0000/")
    heights += page.evaluate(TAP_HEIGHTS, ".back a")  # 「請求書の一覧に戻る」 (helper-105)
    assert len(heights) == 8  # three on the dashboard and 「すべての請求書」, three in the list
    assert all(height >= 44 for _text, height in heights), heights
    assert no_horizontal_overflow(page)
    assert console_errors == []


ONE_LINE = """([selector, words]) => {
  const root = document.querySelector(selector);
  const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
  const range = document.createRange();
  let text = "", nodes = [];
  for (let node; (node = walker.nextNode()); ) { nodes.push([node, text.length]); text += node.data; }
  const start = text.indexOf(words), end = start + words.length;
  if (start < 0) return null;
  const at = offset => { for (const [node, from] of nodes.slice().reverse())
    if (offset >= from) return [node, offset - from]; };
  range.setStart(...at(start)); range.setEnd(...at(end));
  return new Set([...range.getClientRects()].map(rect => Math.round(rect.top))).size;
}"""


def test_the_dashboards_unpaid_total_keeps_its_yen_on_its_line(page, live_server, member):
    """helper-151: at 375 px the dashboard read 「未払いの請求書 2 件：合計 1,243,367」 with
    「円。」 alone on the next line."""
    today = timezone.localdate()
    for number, amount in (("INV-0001", 1_234_567), ("INV-0002", 8_800)):
        Invoice.objects.create(
            member=member, number=number, issued=today, due=today, amount_yen=amount
        )
    sign_in(page)
    expect(page.get_by_text("1,243,367円")).to_be_visible()
    assert page.evaluate(ONE_LINE, [".billing-summary .due", "1,243,367円"]) == 1
