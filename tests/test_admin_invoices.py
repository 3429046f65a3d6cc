"""Invoices in admin: staff create and correct them; Support only looks (issue 15)."""

import datetime

import pytest
from django.conf import settings
from django.contrib.auth.models import Permission

from accounts.models import Member
from backoffice.models import Invoice
from tests.helpers import PASSWORD

pytestmark = pytest.mark.django_db

ADD = "/admin/backoffice/invoice/add/"
LIST = "/admin/backoffice/invoice/"


def change_url(invoice) -> str:
    return f"/admin/backoffice/invoice/{invoice.pk}/change/"


def form(**overrides) -> dict:
    return {
        "member": "JPN1000001",
        "number": "INV-100",
        "issued": "2026-10-01",
        "due": "2026-10-31",
        "amount_yen": "12345",
        "status": "open",
        **overrides,
    }


@pytest.fixture
def invoice(member):
    return Invoice.objects.create(
        member=member,
        number="INV-1",
        issued=datetime.date(2026, 9, 1),
        due=datetime.date(2026, 9, 30),
        amount_yen=5000,
    )


@pytest.fixture
def staff_client(client, staff):
    client.force_login(staff)
    return client


def staff_with(*codenames: str) -> Member:
    user = Member.objects.create_user(
        "JPN9000009", "billing@jenco.example", PASSWORD, is_staff=True
    )
    user.user_permissions.set(Permission.objects.filter(codename__in=codenames))
    return user


@pytest.mark.parametrize("typed", ["JPN1000001", "ｊｐｎ １０００００１", "jpn-1000001"])
def test_staff_create_an_invoice_for_a_member_id_typed_any_way(staff_client, member, typed):
    response = staff_client.post(ADD, form(member=typed))

    assert response.status_code == 302, response.content.decode()[:2000]
    invoice = Invoice.objects.get(number="INV-100")
    assert invoice.member == member
    assert (invoice.amount_yen, invoice.status) == (12345, "open")


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"member": "JPN7777777"}, "会員 JPN7777777 は存在しません。"),
        ({"member": "JPN12"}, "会員IDは「JPN」に続けて7桁の数字で入力してください"),
        ({"member": ""}, "この項目は必須です"),
        ({"due": "2026-09-30"}, "支払期限を発行日より前にすることはできません。"),
        ({"amount_yen": "-1"}, "この値は 0 以上でなければなりません。"),
        ({"amount_yen": "12.5"}, "整数を入力してください。"),
        ({"number": "INV 1/2"}, "請求書番号は英字・数字"),
        ({"status": "late"}, "正しく選択してください。"),
    ],
)
def test_bad_input_is_refused_with_a_message(staff_client, member, changes, message):
    response = staff_client.post(ADD, form(**changes))

    assert response.status_code == 200
    assert message in response.content.decode()
    assert not Invoice.objects.exists()


def test_a_number_already_used_is_refused(staff_client, invoice):
    response = staff_client.post(ADD, form(number="INV-1"))
    assert response.status_code == 200
    assert Invoice.objects.count() == 1


def test_the_change_form_shows_the_member_id_not_an_internal_key(staff_client, invoice):
    page = staff_client.get(change_url(invoice)).content.decode()
    assert 'value="JPN1000001"' in page


def test_staff_correct_an_invoice(staff_client, invoice):
    response = staff_client.post(change_url(invoice), form(number="INV-1", status="paid"))
    assert response.status_code == 302
    invoice.refresh_from_db()
    assert (invoice.status, invoice.amount_yen) == ("paid", 12345)


def test_the_list_searches_by_number_and_by_member_id_typed_any_way(
    staff_client, invoice, english_member
):
    Invoice.objects.create(
        member=english_member, number="INV-2", issued="2026-09-01", due="2026-09-30", amount_yen=1
    )
    by_id = staff_client.get(LIST, {"q": "ＪＰＮ１０００００２"}).content.decode()
    assert ">INV-2<" in by_id and ">INV-1<" not in by_id
    by_number = staff_client.get(LIST, {"q": "INV-1"}).content.decode()
    assert ">INV-1<" in by_number and ">INV-2<" not in by_number


def test_the_list_filters_by_status(staff_client, invoice, member):
    Invoice.objects.create(
        member=member,
        number="INV-P",
        issued="2026-09-01",
        due="2026-09-30",
        amount_yen=1,
        status="paid",
    )
    page = staff_client.get(LIST, {"status__exact": "paid"}).content.decode()
    assert ">INV-P<" in page and ">INV-1<" not in page


def test_the_list_refuses_a_lookup_it_does_not_offer(staff_client, invoice):
    assert staff_client.get(LIST, {"member__password__startswith": "md5"}).status_code == 400


def test_labels_are_japanese_and_english(client, staff, invoice):
    client.force_login(staff)
    ja = client.get(change_url(invoice)).content.decode()
    assert all(label in ja for label in ["請求書番号", "発行日", "支払期限", "金額（円）", "状態"])
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    en = client.get(change_url(invoice)).content.decode()
    assert all(
        label in en for label in ["Invoice number", "Issue date", "Due date", "Amount (yen)"]
    )


def test_someone_with_only_the_view_permission_cannot_change_an_invoice(client, invoice):
    client.force_login(staff_with("view_invoice"))

    page = client.get(change_url(invoice))
    assert page.status_code == 200
    assert 'name="_save"' not in page.content.decode()  # no save button
    assert client.post(change_url(invoice), form(number="INV-1", status="void")).status_code == 403
    assert client.post(ADD, form()).status_code == 403
    invoice.refresh_from_db()
    assert invoice.status == "open"


def test_someone_with_the_change_permission_can(client, invoice):
    client.force_login(staff_with("view_invoice", "change_invoice"))
    assert client.post(change_url(invoice), form(number="INV-1", status="void")).status_code == 302
    invoice.refresh_from_db()
    assert invoice.status == "void"


def test_support_sees_invoices_read_only(client, support_agent, invoice):
    client.force_login(support_agent)
    assert ">INV-1<" in client.get(LIST).content.decode()
    assert client.post(change_url(invoice), form(number="INV-1", status="paid")).status_code == 403
    invoice.refresh_from_db()
    assert invoice.status == "open"


def test_support_does_not_see_staff_accounts_invoices(client, support_agent, staff, invoice):
    # Staff accounts are a superuser's to look up anywhere in admin (helper-113).
    theirs = Invoice.objects.create(
        member=staff, number="X-7", issued="2026-10-01", due="2026-10-31", amount_yen=100
    )
    client.force_login(support_agent)
    listed = client.get(LIST, {"q": staff.member_id}).content.decode()
    assert ">X-7<" not in listed
    assert ">INV-1<" in client.get(LIST).content.decode()
    assert ">X-7<" not in client.get(LIST).content.decode()
    assert client.get(change_url(theirs)).status_code == 302  # admin's "does not exist"
    client.force_login(staff)
    assert ">X-7<" in client.get(LIST).content.decode()
