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

import pyotp
from axes.models import AccessAttempt
from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.http import HttpResponse
from django.template.loader import render_to_string
from django.test import Client, override_settings
from django.utils import timezone

from accounts import checking, credentials, links, view_only
from accounts.flows import two_step
from accounts.ja_accounts import ja_member
from accounts.models import (
    Authenticator,
    EmailChangeRequest,
    Member,
    Passkey,
    PendingRegistration,
)
from backoffice.models import Invoice
from tests.helpers import PASSWORD, PIN, prove_mailbox, reset_link, sign_in, solved_captcha

ANONYMOUS = "signed out"
MAILBOX = "first sign-in: mailbox code"  # signed in on the published defaults
PIN_STEP = "first sign-in: PIN"
PASSWORD_STEP = "first sign-in: password"
MEMBER = "member"
VIEW_ONLY = "signed in view only"  # with the sub password (accounts.view_only)
WITH_SUB_PASSWORD = "member with a sub password"
TWO_STEP = "member with two-step verification"


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


def _another_members_email_link(member: Member) -> str:
    """A confirmation link of another member's, opened where `member` is signed in."""
    other = Member.objects.filter(member_id="JPN1000077").first() or Member.objects.create_user(
        "JPN1000077", email="hana@example.com"
    )  # once for each language
    return _email_confirm_link(other)


def _email_correction(client: Client, member: Member, *, confirm: bool = False) -> HttpResponse:
    """The page a supervisor's email correction link opens (signed out), or its answer."""
    nonce = secrets.token_urlsafe(32)
    EmailChangeRequest.objects.create(
        member=member,
        new_email="taro.fixed@example.com",
        mailbox=credentials.mailbox_key("taro.fixed@example.com"),
        nonce_hash=hashlib.sha256(nonce.encode()).hexdigest(),
        requested_by=member,
        reason="Checked by phone.",
    )
    client.get(links.email_correction_path(nonce))
    if confirm:
        return client.post("/email/correct/new-address/")
    return client.get("/email/correct/new-address/")


def _email_corrected(client: Client, member: Member) -> HttpResponse:
    return _email_correction(client, member, confirm=True)


def _registration_link(member: Member | None = None) -> str:
    """A registration's link as the worker mails it (flows.registration.mail_registration_link)."""
    token = secrets.token_urlsafe(32)
    PendingRegistration.objects.create(
        name="鈴木 一郎",
        email=f"ichiro.{secrets.token_hex(4)}@example.com",
        password=make_password(PASSWORD),
        pin=make_password(PIN),
        token_hash=hashlib.sha256(token.encode()).hexdigest(),
    )
    return links.registration_path(token)


def _registered(client: Client, member: Member) -> HttpResponse:
    """The page with the new member ID, after the link's button was pressed."""
    client.get(_registration_link())
    return client.post("/register/verify/confirm/", {"password": PASSWORD}, follow=True)


def _registration_link_used(client: Client, member: Member) -> HttpResponse:
    """The link opened again once it created the member: the account is there, sign in."""
    link = _registration_link()
    client.get(link)
    client.post("/register/verify/confirm/", {"password": PASSWORD})
    return client.get(link, follow=True)


def _registration_closed(client: Client, member: Member) -> HttpResponse:
    with override_settings(JENCO_REGISTRATION_OPEN=False):
        return client.get("/register/")


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


def _bad_host(client: Client, member: Member) -> HttpResponse:
    """Our 400 page: what a request for a host we do not serve gets."""
    return Client(raise_request_exception=False).get("/login/", HTTP_HOST="evil.example")


def _csrf_refused(client: Client, member: Member) -> HttpResponse:
    """Our 403 page for a form sent without its CSRF token (an old tab, cookies cleared)."""
    refusing = Client(enforce_csrf_checks=True)
    refusing.cookies[settings.LANGUAGE_COOKIE_NAME] = client.cookies[
        settings.LANGUAGE_COOKIE_NAME
    ].value
    return refusing.post("/login/", {"username": "JPN1000001", "password": "x"})


def _server_error(client: Client, member: Member) -> HttpResponse:
    """Our 500 page, as Django renders it: without a request, in both languages."""
    return HttpResponse(render_to_string("500.html"), status=500)


def _locked_out(client: Client, member: Member) -> HttpResponse:
    """The sign-in page's pause: a member ID with too many recent failures tries again."""
    AccessAttempt.objects.update_or_create(
        username="JPN7654321",
        ip_address="10.0.0.1",
        user_agent="",
        defaults={"failures_since_start": settings.AXES_FAILURE_LIMIT, "path_info": "/login/"},
    )
    return client.post("/login/", {"username": "JPN7654321", "password": "x"})


def _checking_others(client: Client, member: Member) -> HttpResponse:
    """The sign-in refused for the posts ahead of it still checking theirs: try again."""
    with checking.checking(member.member_id, None):
        data = {"username": member.member_id, "password": "x", **solved_captcha()}
        with override_settings(AXES_FAILURE_LIMIT=1):
            return client.post("/login/", data)


def _wrong_password(client: Client, member: Member) -> HttpResponse:
    """The sign-in form's own error (not a field's): the captcha read, the password wrong."""
    data = {"username": member.member_id, "password": "not-the-password", **solved_captcha()}
    return client.post("/login/", data)


def _view_only_wrong_password(client: Client, member: Member) -> HttpResponse:
    """The sign-in form's error with the view-only box ticked: the box stays ticked."""
    data = {
        "username": member.member_id,
        "password": "not-the-sub-password",
        "view_only": "on",
        **solved_captcha(),
    }
    return client.post("/login/", data)


def _remove_sub_password_empty(client: Client, member: Member) -> HttpResponse:
    """The sub password page after "Remove" was pressed with no PIN typed."""
    return client.post("/backoffice/profile/sub-password/", {"remove": "1"})


def _login_code(client: Client, member: Member, data: dict | None = None) -> HttpResponse:
    """The second step of a sign-in with two-step on (the two-step member's password typed)."""
    two_step_member = signed_in(Client(), TWO_STEP)
    sign_in(client, two_step_member.member_id)
    if data is None:
        return client.get("/login/code/")
    return client.post("/login/code/", data)


def _login_code_empty(client: Client, member: Member) -> HttpResponse:
    return _login_code(client, member, {})


def _email_change_requested(client: Client, member: Member) -> HttpResponse:
    """A confirmation message on the profile page, after asking for a new address."""
    data = {"email": f"taro.{secrets.token_hex(4)}@example.com", "pin": PIN}
    return client.post("/backoffice/profile/email/", data, follow=True)


def _passkey_refused(client: Client, member: Member) -> HttpResponse:
    """The page again after the browser's answer was not accepted."""
    client.get("/login/passkey/")
    return client.post("/login/passkey/", {"passkey": "{}"}, follow=True)


def _passkey_named(client: Client, member: Member) -> HttpResponse:
    """Adding a passkey, its second step: the name and PIN were right, the device is next."""
    client.post("/backoffice/security/passkeys/add/", {"name": "iPhone", "pin": PIN})
    return client.get("/backoffice/security/passkeys/add/")


def _passkey_removal(member: Member) -> str:
    return f"/backoffice/security/passkeys/{member.passkeys.get().pk}/remove/"


@dataclass(frozen=True)
class MemberPage:
    name: str
    path: str | Callable[[Member], str]
    who: str = ANONYMOUS
    submit_empty: bool = False
    status: int = 200
    # Pages no link leads to (error pages, a pause): how the test client gets them. The browser
    # is given the same HTML (tests/e2e/test_axe.py).
    fetch: Callable[[Client, Member], HttpResponse] | None = None
    # Where the page is shown when that is not its own path (a signed-out email link: sign-in).
    lands_on: str | None = None

    def url(self, member: Member | None) -> str:
        return self.path if isinstance(self.path, str) else self.path(member)

    def get(self, client: Client, member: Member) -> HttpResponse:
        """The page as the test client gets it, its form sent empty first when asked."""
        if self.fetch is not None:
            return self.fetch(client, member)
        response = client.get(self.url(member), follow=True)
        if self.submit_empty:
            # Posted where the browser would post it: the page the link or redirect led to.
            chain = response.redirect_chain
            response = client.post(chain[-1][0] if chain else self.url(member), {}, follow=True)
        return response

    def __str__(self) -> str:
        return f"{self.name}{' (sent empty)' if self.submit_empty else ''}, {self.who}"


_FORMS_SIGNED_OUT = [
    ("sign-in", "/login/"),
    ("forgot password", "/password/forgot/"),
    ("forgot PIN", "/pin/forgot/"),
    ("password reset form", _reset_link("password")),
    ("PIN reset form", _reset_link("pin")),
    ("register", "/register/"),
]
_FORMS_SIGNED_IN = [
    ("profile: PIN", "/backoffice/profile/pin/"),
    ("profile: password", "/backoffice/profile/password/"),
    ("profile: sub password", "/backoffice/profile/sub-password/"),
    ("profile: email", "/backoffice/profile/email/"),
    ("security: set up the authenticator", "/backoffice/security/two-step/authenticator/"),
    ("security: add a passkey", "/backoffice/security/passkeys/add/"),
]

PAGES = [
    *(
        MemberPage(name, path, ANONYMOUS, empty)
        for name, path in _FORMS_SIGNED_OUT
        for empty in (False, True)
    ),
    MemberPage("sign-in: wrong password", "/login/", fetch=_wrong_password),
    MemberPage("sign in with a passkey", "/login/passkey/"),
    MemberPage("email correction: confirm", "/email/correct/new-address/", fetch=_email_correction),
    MemberPage("email correction: done", "/email/correct/new-address/", fetch=_email_corrected),
    MemberPage("email correction: link unusable", "/email/correct/new-address/"),
    MemberPage(
        "email correction: link no longer valid",
        "/email/correct/not-a-token/",
        lands_on="/email/correct/unusable/",
    ),
    MemberPage("sign in with a passkey: refused", "/login/passkey/", fetch=_passkey_refused),
    MemberPage("forgot password: sent", "/password/forgot/sent/"),
    MemberPage("forgot PIN: sent", "/pin/forgot/sent/"),
    MemberPage("password reset: done", "/password/reset/done/"),
    MemberPage("PIN reset: done", "/pin/reset/done/"),
    MemberPage(
        "reset link no longer valid",
        "/password/reset/MQ/not-a-token/",
        lands_on="/password/reset/link/unusable/",
    ),
    MemberPage("register: sent", "/register/sent/"),
    MemberPage("register: link, confirm", _registration_link),
    MemberPage("register: done", "/register/done/", fetch=_registered),
    MemberPage(
        "register: link no longer valid",
        "/register/verify/not-a-token/",
        lands_on="/register/verify/unusable/",
    ),
    MemberPage("register: link used", "/register/verify/used/", fetch=_registration_link_used),
    MemberPage("register: closed", "/register/", fetch=_registration_closed),
    MemberPage("email link signed out", _email_confirm_link, lands_on="/login/"),
    MemberPage(
        "email link signed out, no longer valid",
        "/backoffice/profile/email/confirm/not-a-token/",
        lands_on="/backoffice/profile/email/confirm/unusable/",
    ),
    MemberPage("page not found", "/no-such-page/", status=404),
    MemberPage("bad request (400)", "/login/", status=400, fetch=_bad_host),
    MemberPage("form refused: CSRF (403)", "/login/", status=403, fetch=_csrf_refused),
    MemberPage("server error (500)", "/", status=500, fetch=_server_error),
    MemberPage("sign-in paused", "/login/", status=429, fetch=_locked_out),
    MemberPage("sign-in: others checking", "/login/", status=429, fetch=_checking_others),
    MemberPage("mailbox code", "/backoffice/first-sign-in/mailbox/", MAILBOX),
    MemberPage("mailbox code", "/backoffice/first-sign-in/mailbox/", MAILBOX, True),
    MemberPage("first PIN", "/backoffice/profile/pin/", PIN_STEP),
    MemberPage("first PIN", "/backoffice/profile/pin/", PIN_STEP, True),
    MemberPage("first password", "/backoffice/profile/password/", PASSWORD_STEP),
    MemberPage("first password", "/backoffice/profile/password/", PASSWORD_STEP, True),
    MemberPage("dashboard", "/backoffice/", MEMBER),
    MemberPage("profile", "/backoffice/profile/", MEMBER),
    MemberPage("profile: link sent", "/backoffice/profile/", MEMBER, fetch=_email_change_requested),
    *(
        MemberPage(name, path, MEMBER, empty)
        for name, path in _FORMS_SIGNED_IN
        for empty in (False, True)
    ),
    MemberPage("forgot PIN signed in", "/pin/forgot/", MEMBER),
    MemberPage(
        "email link no longer valid",
        "/backoffice/profile/email/confirm/x/",
        MEMBER,
        lands_on="/backoffice/profile/email/confirm/unusable/",
    ),
    MemberPage("email link: confirm", _email_confirm_link, MEMBER),
    MemberPage("email link of another account", _another_members_email_link, MEMBER),
    MemberPage("billing: no invoices", "/backoffice/billing/", MEMBER),
    MemberPage("billing", _billing, MEMBER),
    MemberPage("invoice", _invoice, MEMBER),
    MemberPage("dashboard with invoices", "/backoffice/", MEMBER),
    MemberPage("sign-in: wrong sub password", "/login/", fetch=_view_only_wrong_password),
    MemberPage("profile: sub password set", "/backoffice/profile/sub-password/", WITH_SUB_PASSWORD),
    MemberPage(
        "profile: sub password set",
        "/backoffice/profile/sub-password/",
        WITH_SUB_PASSWORD,
        submit_empty=True,
    ),
    MemberPage(
        "profile: sub password, remove sent empty",
        "/backoffice/profile/sub-password/",
        WITH_SUB_PASSWORD,
        fetch=_remove_sub_password_empty,
    ),
    MemberPage("dashboard", "/backoffice/", VIEW_ONLY),
    MemberPage("profile", "/backoffice/profile/", VIEW_ONLY),
    MemberPage("billing", "/backoffice/billing/", VIEW_ONLY),
    MemberPage("change PIN refused", "/backoffice/profile/pin/", VIEW_ONLY, status=403),
    MemberPage("security", "/backoffice/security/", MEMBER),
    MemberPage(
        "security: add a passkey, the device's step",
        "/backoffice/security/passkeys/add/",
        MEMBER,
        fetch=_passkey_named,
    ),
    MemberPage("security", "/backoffice/security/", VIEW_ONLY),
    MemberPage("security: two-step on", "/backoffice/security/", TWO_STEP),
    MemberPage("security: activity", "/backoffice/security/activity/", MEMBER),
    MemberPage("security: activity", "/backoffice/security/activity/", VIEW_ONLY),
    *(
        MemberPage(name, path, TWO_STEP, empty)
        for name, path in [
            ("security: new recovery codes", "/backoffice/security/two-step/recovery-codes/"),
            ("security: turn two-step off", "/backoffice/security/two-step/off/"),
            ("security: remove a passkey", _passkey_removal),
        ]
        for empty in (False, True)
    ),
    MemberPage("sign-in: two-step code", "/login/code/", fetch=_login_code),
    MemberPage("sign-in: two-step code", "/login/code/", fetch=_login_code_empty),
]


# Each with a sub password (SUB_PASSWORD), signed in with the main password or view only.
_SUB_PASSWORD_MEMBERS = {VIEW_ONLY: "JPN1000003", WITH_SUB_PASSWORD: "JPN1000004"}
SUB_PASSWORD = "willow-Creek-5512"

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
    if who in _SUB_PASSWORD_MEMBERS:
        member = Member.objects.filter(member_id=_SUB_PASSWORD_MEMBERS[who]).first()
        if member is None:
            member = Member.objects.create_user(
                _SUB_PASSWORD_MEMBERS[who],
                email="jiro@example.com",
                password=PASSWORD,
                name="山田 次郎",
                pin=make_password(PIN),
                sub_password=make_password(SUB_PASSWORD),
            )
        client.force_login(member)
        if who == VIEW_ONLY:  # what a view-only sign-in leaves in the session
            session = client.session
            session[view_only.SESSION_KEY] = view_only.fingerprint(member)
            session.save()
        return member
    if who == TWO_STEP:
        member = Member.objects.filter(member_id="JPN1000005").first()
        if member is None:
            member = Member.objects.create_user(
                "JPN1000005",
                email="saburo@example.com",
                password=PASSWORD,
                name="山田 三郎",
                pin=make_password(PIN),
            )
            Authenticator.objects.create(
                member=member, secret_encrypted=two_step._encrypt(pyotp.random_base32())
            )
            two_step._new_recovery_codes(member)
            Passkey.objects.create(
                member=member,
                name="iPhone",
                credential_id="c2FidXJv",
                public_key=b"-",
                backed_up=True,
            )
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
