"""Account > Profile > 請求書 (Billing): the member's invoices, one invoice, its PDF (issue 15)."""

import datetime
import io
import re
from pathlib import Path

import pypdf
import pytest
from django.conf import settings
from django.utils import timezone

from backoffice.billing import PER_PAGE
from backoffice.models import Invoice

pytestmark = pytest.mark.django_db

TODAY = timezone.localdate()


def make_invoice(member, number="INV-0001", *, days_ago=10, amount=12345, status="open", due_in=20):
    issued = TODAY - datetime.timedelta(days=days_ago)
    return Invoice.objects.create(
        member=member,
        number=number,
        issued=issued,
        due=issued + datetime.timedelta(days=due_in),
        amount_yen=amount,
        status=status,
    )


@pytest.fixture
def english_client(client, english_member):
    # What signing in does for a member whose language is English.
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    client.force_login(english_member)
    return client


# --- The list ---------------------------------------------------------------------------------


def test_it_lists_the_members_invoices_with_the_seeds_tab(member_client, member):
    make_invoice(member, "INV-0001", amount=12345)
    page = member_client.get("/backoffice/billing/").content.decode()

    assert '<a href="/backoffice/billing/" aria-current="page">請求書</a>' in page
    # Headed as the profile is, not "change my profile": nothing changes here (helper-116).
    assert "<h1>マイプロフィール</h1>" in page and "マイプロフィールの変更" not in page
    assert 'href="/backoffice/billing/INV-0001/"' in page
    assert "12,345円" in page
    assert "未払い" in page
    issued = TODAY - datetime.timedelta(days=10)
    assert f"{issued.year}年{issued.month}月{issued.day}日" in page


def test_in_english_the_amount_reads_with_the_yen_sign(english_client, english_member):
    make_invoice(english_member, amount=1234567, status="paid")
    page = english_client.get("/backoffice/billing/").content.decode()

    assert "¥1,234,567" in page and "円" not in page
    assert ">Paid<" in page and ">Billing</a>" in page


def test_every_profile_tab_links_to_billing(member_client):
    page = member_client.get("/backoffice/profile/").content.decode()
    assert '<a href="/backoffice/billing/">請求書</a>' in page


def test_newest_invoices_come_first(member_client, member):
    make_invoice(member, "INV-OLD", days_ago=60)
    make_invoice(member, "INV-NEW", days_ago=1)
    make_invoice(member, "INV-MID", days_ago=30)
    page = member_client.get("/backoffice/billing/").content.decode()
    assert page.index("INV-NEW") < page.index("INV-MID") < page.index("INV-OLD")


def test_another_members_invoices_are_not_listed(member_client, english_member):
    make_invoice(english_member, "INV-ALICE")
    page = member_client.get("/backoffice/billing/").content.decode()
    assert "INV-ALICE" not in page
    assert "請求書はまだありません。" in page


@pytest.mark.parametrize(
    ("language", "words"),
    [("ja", "請求書はまだありません。"), ("en", "You have no invoices yet.")],
)
def test_with_no_invoices_it_says_so_in_words(client, member, language, words):
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = language
    member.preferred_language = language
    member.save()
    client.force_login(member)
    page = client.get("/backoffice/billing/").content.decode()
    assert words in page
    assert "<table" not in page


def test_an_unpaid_invoice_past_its_due_date_is_marked_overdue_in_words(member_client, member):
    make_invoice(member, "INV-LATE", days_ago=40, due_in=10, status="open")
    make_invoice(member, "INV-PAID-LATE", days_ago=40, due_in=10, status="paid")
    make_invoice(member, "INV-DUE-TODAY", days_ago=10, due_in=10, status="open")
    page = member_client.get("/backoffice/billing/").content.decode()

    rows = {
        number: page.split(f">{number}</a>")[1].split("</tr>")[0]
        for number in ["INV-LATE", "INV-PAID-LATE", "INV-DUE-TODAY"]
    }
    assert "期限超過" in rows["INV-LATE"]
    assert "期限超過" not in rows["INV-PAID-LATE"]
    assert "期限超過" not in rows["INV-DUE-TODAY"]  # due today is not late yet


def test_statuses_are_words_in_both_languages(client, member, english_member):
    for owner in (member, english_member):
        make_invoice(owner, f"O-{owner.pk}", status="open")
        make_invoice(owner, f"P-{owner.pk}", status="paid")
        make_invoice(owner, f"V-{owner.pk}", status="void")
    client.force_login(member)
    ja = client.get("/backoffice/billing/").content.decode()
    assert all(word in ja for word in ["未払い", "支払済み", "取消"])
    client.force_login(english_member)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    en = client.get("/backoffice/billing/").content.decode()
    assert all(word in en for word in [">Unpaid<", ">Paid<", ">Cancelled<"])


# --- Pages ------------------------------------------------------------------------------------


@pytest.fixture
def many_invoices(member):
    issued = TODAY - datetime.timedelta(days=400)
    Invoice.objects.bulk_create(
        Invoice(
            member=member,
            number=f"INV-{n:04d}",
            issued=issued + datetime.timedelta(days=n),
            due=issued + datetime.timedelta(days=n + 30),
            amount_yen=1000 + n,
            status="paid",
        )
        for n in range(PER_PAGE + 1)
    )


def numbers_on(response) -> list[str]:
    page = response.content.decode()
    return [part.split("/")[0] for part in page.split('href="/backoffice/billing/INV-')[1:]]


def test_a_page_holds_twenty_invoices_and_links_to_the_older_ones(member_client, many_invoices):
    first = member_client.get("/backoffice/billing/")
    assert len(numbers_on(first)) == PER_PAGE
    assert numbers_on(first)[0] == f"{PER_PAGE:04d}"
    assert 'href="?page=2"' in first.content.decode()
    assert "1 / 2 ページ" in first.content.decode()

    second = member_client.get("/backoffice/billing/?page=2")
    assert numbers_on(second) == ["0000"]
    assert 'href="?page=1"' in second.content.decode()


@pytest.mark.parametrize(
    ("page", "shows"),
    [
        ("abc", "first"),
        ("", "first"),
        ("1.5", "first"),
        ("9" * 5000, "first"),  # more digits than int() reads
        ("\x00", "first"),
        ("0", "last"),
        ("-1", "last"),
        ("999", "last"),
    ],
)
def test_a_bad_page_number_shows_the_first_or_last_page(member_client, many_invoices, page, shows):
    response = member_client.get("/backoffice/billing/", {"page": page})
    assert response.status_code == 200
    expected = ["0000"] if shows == "last" else None
    if expected:
        assert numbers_on(response) == expected
    else:
        assert len(numbers_on(response)) == PER_PAGE


def test_a_page_number_with_no_invoices_at_all_shows_the_empty_state(member_client):
    response = member_client.get("/backoffice/billing/?page=5")
    assert response.status_code == 200
    assert "請求書はまだありません。" in response.content.decode()


def test_exactly_one_pages_worth_shows_no_pager(member_client, member):
    for n in range(PER_PAGE):
        make_invoice(member, f"INV-{n:04d}")
    page = member_client.get("/backoffice/billing/").content.decode()
    assert "?page=" not in page


# --- One invoice --------------------------------------------------------------------------------


def test_an_invoice_page_shows_the_invoice(member_client, member):
    make_invoice(member, "INV-0042", amount=98000, status="open", days_ago=40, due_in=10)
    page = member_client.get("/backoffice/billing/INV-0042/").content.decode()

    assert "INV-0042" in page and "98,000円" in page and "期限超過" in page
    assert "JPN1000001" in page and "山田 太郎" in page
    assert 'href="/backoffice/billing/INV-0042/pdf/"' in page


def test_another_members_invoice_is_not_found(member_client, english_member):
    make_invoice(english_member, "INV-ALICE")
    assert member_client.get("/backoffice/billing/INV-ALICE/").status_code == 404
    assert member_client.get("/backoffice/billing/INV-ALICE/pdf/").status_code == 404


def test_a_number_that_does_not_exist_is_not_found(member_client):
    assert member_client.get("/backoffice/billing/NOPE/").status_code == 404
    assert member_client.get("/backoffice/billing/NOPE/pdf/").status_code == 404


@pytest.mark.parametrize("number", ["%00", "INV%000042", "%E3%81%82", "-INV", "A" * 33])
def test_what_no_invoice_number_can_be_is_not_found(member_client, number):
    # The attacker's trial: a NUL answered 500 on PostgreSQL, which refuses one in a query.
    for path in (f"/backoffice/billing/{number}/", f"/backoffice/billing/{number}/pdf/"):
        assert member_client.get(path).status_code == 404


@pytest.mark.parametrize(
    "path",
    ["/backoffice/billing/", "/backoffice/billing/INV-0001/", "/backoffice/billing/INV-0001/pdf/"],
)
def test_the_billing_pages_need_a_signed_in_member(client, path):
    response = client.get(path)
    assert response.status_code == 302
    assert response["Location"] == f"/login/?next={path}"


@pytest.mark.parametrize(
    "path",
    ["/backoffice/billing/", "/backoffice/billing/INV-0001/", "/backoffice/billing/INV-0001/pdf/"],
)
def test_a_member_at_the_pin_step_is_kept_to_it(migrated_client, migrated_member, path):
    make_invoice(migrated_member, "INV-0001")
    response = migrated_client.get(path)
    assert response.status_code == 302
    assert response["Location"] == "/backoffice/profile/pin/"


def test_a_member_before_the_mailbox_code_sees_no_invoice(client, migrated_member):
    make_invoice(migrated_member, "INV-0001")
    client.force_login(migrated_member)
    response = client.get("/backoffice/billing/INV-0001/pdf/")
    assert response["Location"] == "/backoffice/first-sign-in/mailbox/"


def test_the_pages_are_not_kept_in_caches(member_client, member):
    make_invoice(member, "INV-0001")
    for path in [
        "/backoffice/billing/",
        "/backoffice/billing/INV-0001/",
        "/backoffice/billing/INV-0001/pdf/",
    ]:
        assert "no-store" in member_client.get(path)["Cache-Control"]


def test_the_billing_pages_only_answer_get(member_client, member):
    make_invoice(member, "INV-0001")
    assert member_client.post("/backoffice/billing/").status_code == 405
    assert member_client.post("/backoffice/billing/INV-0001/pdf/").status_code == 405


# --- Print ------------------------------------------------------------------------------------


def test_the_stylesheet_prints_an_invoice_without_header_menus_or_buttons():
    css = Path(settings.BASE_DIR, "static", "css", "jenco.css").read_text()
    hidden = re.search(r"@media print \{\s*([^{]+)\{ display: none !important; \}", css)
    assert hidden, "no print rule that hides anything"
    selectors = {selector.strip() for selector in hidden.group(1).split(",")}
    assert {".topbar", ".footer", ".tabs", ".no-print", "button"} <= selectors


def test_the_invoice_pages_buttons_and_links_are_left_out_of_the_print(member_client, member):
    make_invoice(member, "INV-0001")
    page = member_client.get("/backoffice/billing/INV-0001/").content.decode()
    assert '<p class="back no-print">' in page
    assert '<div class="no-print invoice-actions">' in page


# --- The PDF ----------------------------------------------------------------------------------


def pdf_text(response) -> str:
    return "".join(p.extract_text() for p in pypdf.PdfReader(io.BytesIO(response.content)).pages)


def test_the_pdf_is_a_pdf_of_the_invoice_in_japanese(member_client, member):
    make_invoice(member, "INV-2026-0042", amount=12345, days_ago=40, due_in=10)
    response = member_client.get("/backoffice/billing/INV-2026-0042/pdf/")

    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == 'attachment; filename="invoice-INV-2026-0042.pdf"'
    assert response.content.startswith(b"%PDF-")
    text = pdf_text(response)
    for words in [
        "請求書",
        "INV-2026-0042",
        "JPN1000001",
        "山田 太郎",
        "12,345円",
        "未払い",
        "期限超過",
    ]:
        assert words in text, words


def test_the_pdf_is_in_english_for_an_english_member(english_client, english_member):
    make_invoice(english_member, "INV-EN-1", amount=5000, status="paid")
    text = pdf_text(english_client.get("/backoffice/billing/INV-EN-1/pdf/"))
    for words in ["Invoice", "INV-EN-1", "¥5,000", "Paid", "Alice Smith"]:
        assert words in text, words
    assert "請求書" not in text


# --- The dashboard ------------------------------------------------------------------------------


def test_the_dashboard_shows_the_latest_invoices_and_what_is_due(member_client, member):
    make_invoice(member, "INV-A", days_ago=90, status="paid")
    make_invoice(member, "INV-B", days_ago=60, amount=1000, due_in=20, status="open")  # overdue
    make_invoice(member, "INV-C", days_ago=30, amount=2500, due_in=40, status="open")
    make_invoice(member, "INV-D", days_ago=1, status="void")
    page = member_client.get("/backoffice/").content.decode()

    # The total held on its line (helper-151: 「円。」 wrapped alone at 375 px).
    assert '未払いの請求書 2 件：合計 <span class="amount">3,500円</span>。' in page
    assert "期限超過" in page
    due = TODAY - datetime.timedelta(days=40)
    assert f"次の支払期限：{due.year}年{due.month}月{due.day}日。" in page
    assert "INV-D" in page and "INV-C" in page and "INV-B" in page
    assert "INV-A" not in page  # only the latest three
    assert 'href="/backoffice/billing/"' in page


def test_the_dashboard_says_when_nothing_is_due(english_client, english_member):
    make_invoice(english_member, "INV-P", status="paid")
    page = english_client.get("/backoffice/").content.decode()
    assert "Nothing is due: every invoice is paid." in page
    assert "unpaid" not in page


def test_the_dashboard_without_invoices_says_so(member_client):
    assert "請求書はまだありません。" in member_client.get("/backoffice/").content.decode()


def test_the_dashboard_shows_no_one_elses_invoices(member_client, english_member):
    make_invoice(english_member, "INV-ALICE", amount=999)
    page = member_client.get("/backoffice/").content.decode()
    assert "INV-ALICE" not in page and "999" not in page
