"""Every page a member can reach, in every state it can be in: what the outside checkers read.

tests/test_html_valid.py sends each through the Nu Html Checker and tests/e2e/test_axe.py
through axe-core, in both languages. A page is a path (or a function of the member giving
one, for the emailed links), who is looking at it, and whether its form was sent empty first
(a form's errors are markup too).
"""

import datetime
import hashlib
import secrets
from collections.abc import Callable
from dataclasses import dataclass

from django.contrib.auth.hashers import make_password
from django.test import Client
from django.utils import timezone

from accounts import credentials, links
from accounts.ja_accounts import ja_member
from accounts.models import EmailChangeRequest, Member
from backoffice.models import Invoice
from tests.helpers import PASSWORD, PIN, prove_mailbox, reset_link

ANONYMOUS = "signed out"
MAILBOX = "first sign-in: mailbox code"  # signed in on the published defaults
PIN_STEP = "first sign-in: PIN"
PASSWORD_STEP = "first sign-in: password"
MEMBER = "member"


def _reset_link(kind: str) -> Callable[[Member], str]:
    return lambda member: reset_link(kind, member)


def _email_confirm_link(member: Member) -> str:
    """A confirmation link as the worker mails it (flows.email_change.mail_email_change_link)."""
    nonce = secrets.token_urlsafe(32)
    EmailChangeRequest.objects.create(
        member=member,
        new_email="taro.new@example.com",
        mailbox=credentials.mailbox_key("taro.new@example.com"),
        nonce_hash=hashlib.sha256(nonce.encode()).hexdigest(),
    )
    return links.email_change_path(nonce)


def _invoices(member: Member) -> None:
    """Invoices in every state the billing pages show: unpaid, overdue, paid, cancelled."""
    today = timezone.localdate()
    for number, days_ago, status in [
        ("INV-OPEN", 1, "open"),
        ("INV-OVERDUE", 60, "open"),
        ("INV-PAID", 90, "paid"),
        ("INV-VOID", 120, "void"),
    ]:
        issued = today - datetime.timedelta(days=days_ago)
        Invoice.objects.get_or_create(
            number=number,
            defaults={
                "member": member,
                "issued": issued,
                "due": issued + datetime.timedelta(days=30),
                "amount_yen": 12345,
                "status": status,
            },
        )


def _billing(member: Member) -> str:
    _invoices(member)
    return "/backoffice/billing/"


def _invoice(member: Member) -> str:
    _invoices(member)
    return "/backoffice/billing/INV-OVERDUE/"


@dataclass(frozen=True)
class MemberPage:
    name: str
    path: str | Callable[[Member], str]
    who: str = ANONYMOUS
    submit_empty: bool = False

    def url(self, member: Member | None) -> str:
        return self.path if isinstance(self.path, str) else self.path(member)

    def __str__(self) -> str:
        return f"{self.name}{' (sent empty)' if self.submit_empty else ''}, {self.who}"


_FORMS_SIGNED_OUT = [
    ("sign-in", "/login/"),
    ("forgot password", "/password/forgot/"),
    ("forgot PIN", "/pin/forgot/"),
    ("password reset form", _reset_link("password")),
    ("PIN reset form", _reset_link("pin")),
]
_FORMS_SIGNED_IN = [
    ("profile: PIN", "/backoffice/profile/pin/"),
    ("profile: password", "/backoffice/profile/password/"),
    ("profile: sub password", "/backoffice/profile/sub-password/"),
    ("profile: email", "/backoffice/profile/email/"),
]

PAGES = [
    *(
        MemberPage(name, path, ANONYMOUS, empty)
        for name, path in _FORMS_SIGNED_OUT
        for empty in (False, True)
    ),
    MemberPage("forgot password: sent", "/password/forgot/sent/"),
    MemberPage("forgot PIN: sent", "/pin/forgot/sent/"),
    MemberPage("password reset: done", "/password/reset/done/"),
    MemberPage("PIN reset: done", "/pin/reset/done/"),
    MemberPage("reset link no longer valid", "/password/reset/MQ/not-a-token/"),
    MemberPage("email link signed out", "/backoffice/profile/email/confirm/not-a-token/"),
    MemberPage("page not found", "/no-such-page/"),
    MemberPage("mailbox code", "/backoffice/first-sign-in/mailbox/", MAILBOX),
    MemberPage("mailbox code", "/backoffice/first-sign-in/mailbox/", MAILBOX, True),
    MemberPage("first PIN", "/backoffice/profile/pin/", PIN_STEP),
    MemberPage("first PIN", "/backoffice/profile/pin/", PIN_STEP, True),
    MemberPage("first password", "/backoffice/profile/password/", PASSWORD_STEP),
    MemberPage("first password", "/backoffice/profile/password/", PASSWORD_STEP, True),
    MemberPage("dashboard", "/backoffice/", MEMBER),
    MemberPage("profile", "/backoffice/profile/", MEMBER),
    *(
        MemberPage(name, path, MEMBER, empty)
        for name, path in _FORMS_SIGNED_IN
        for empty in (False, True)
    ),
    MemberPage("forgot PIN signed in", "/pin/forgot/", MEMBER),
    MemberPage("email link no longer valid", "/backoffice/profile/email/confirm/x/", MEMBER),
    MemberPage("email link: confirm", _email_confirm_link, MEMBER),
    MemberPage("billing: no invoices", "/backoffice/billing/", MEMBER),
    MemberPage("billing", _billing, MEMBER),
    MemberPage("invoice", _invoice, MEMBER),
    MemberPage("dashboard with invoices", "/backoffice/", MEMBER),
]


_STEP_MEMBERS = {MAILBOX: "JPN2000001", PIN_STEP: "JPN2000002", PASSWORD_STEP: "JPN2000003"}


def _market_quotes() -> None:
    """The ticker on every page (backoffice.ticker): one quote up, one down, one delayed."""
    from django.utils import timezone

    from backoffice.models import Quote

    now = timezone.now()
    for position, (symbol, last, change, percent, age) in enumerate(
        [
            ("NIKKEI", "15676.9", "+5.0", "+0.03", 0),
            ("EURUSD", "1.18424", "-0.00024", "-0.02", 0),
            ("SPX", "3440.61", "+11.00", "", 3 * 60),
        ]
    ):
        Quote.objects.get_or_create(
            symbol=symbol,
            defaults={
                "last": last,
                "change": change,
                "percent": percent,
                "as_of": now - timezone.timedelta(minutes=age),
                "position": position,
            },
        )


def signed_in(client: Client, who: str) -> Member:
    """A member in the state `who` names, signed in on `client` (for ANONYMOUS not signed in:
    the member is there for the emailed links). The ticker shows its quotes."""
    _market_quotes()
    if who in (ANONYMOUS, MEMBER):
        member = Member.objects.filter(member_id="JPN1000001").first()
        if member is None:
            member = Member.objects.create_user(
                "JPN1000001",
                email="taro@example.com",
                password=PASSWORD,
                name="山田 太郎",
                pin=make_password(PIN),
                id_document_number="AB98765432",
            )
        if who == MEMBER:
            client.force_login(member)
        return member
    member = Member.objects.filter(member_id=_STEP_MEMBERS[who]).first()
    if member is None:
        member = ja_member(_STEP_MEMBERS[who], name="佐藤 花子", email="hanako@example.com")
        if who == PASSWORD_STEP:
            member.pin, member.on_default_pin = make_password(PIN), False
        member.save()
    client.force_login(member)
    if who != MAILBOX:
        prove_mailbox(client, member)
    return member
