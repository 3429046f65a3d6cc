"""What many tests do: the members' secrets, a captcha answered through its store, signing
in through the real form, and reading the links we email."""

import contextlib
import datetime
import html
import re

from captcha.models import CaptchaStore
from django.db.models import F
from django.test import Client

from accounts import links
from accounts.models import SecurityEvent

PASSWORD = "plum-Blossom-2026"
PIN = "482916"
DEFAULT_PASSWORD = "jenco@12345"
DEFAULT_PIN = "123123"
# 「日本時間」 as pages write it before a time: joined (U+2060) and a no-break space, so a
# phone never breaks it across lines.
# Just over reset.LINKS_APART: a reset link mailed this long ago may be mailed again.
MINUTE = datetime.timedelta(minutes=1, seconds=1)
JAPAN_TIME = "日\u2060本\u2060時\u2060間\u00a0"
# Every page of the signed-in back office.
BACKOFFICE_PAGES = [
    "/backoffice/",
    "/backoffice/profile/",
    "/backoffice/profile/pin/",
    "/backoffice/profile/password/",
    "/backoffice/profile/sub-password/",
    "/backoffice/profile/email/",
    "/backoffice/billing/",
]


def solved_captcha() -> dict:
    """What a member who read the picture correctly would submit."""
    key = CaptchaStore.generate_key()
    return {"captcha_0": key, "captcha_1": CaptchaStore.objects.get(hashkey=key).response}


def wrong_captcha() -> dict:
    key = CaptchaStore.generate_key()
    answer = CaptchaStore.objects.get(hashkey=key).response
    return {"captcha_0": key, "captcha_1": f"{(int(answer) + 1) % 10000:04d}"}


def finished_member(member_id: str, email: str, name: str, **fields):
    """A member who finished the migration: their own password (PASSWORD) and PIN (PIN)."""
    from django.contrib.auth.hashers import make_password

    from accounts.models import Member

    return Member.objects.create_user(
        member_id, email=email, password=PASSWORD, name=name, pin=make_password(PIN), **fields
    )


def sign_in(
    client: Client,
    member_id: str = "JPN1000001",
    password: str = PASSWORD,
    *,
    captcha: dict | None = None,
    next: str | None = None,
    **request,
):
    """Post the sign-in form as a member does, the captcha read correctly unless `captcha`
    says otherwise; `request` goes to the client (REMOTE_ADDR=…, secure=True)."""
    data = {"username": member_id, "password": password, **(captcha or solved_captcha())}
    if next is not None:
        data["next"] = next
    return client.post("/login/", data, **request)


def prove_mailbox(client, member) -> None:
    """What entering the mailed code leaves in this session (accounts.flows.mailbox)."""
    from accounts.flows import mailbox

    session = client.session
    session[mailbox.SESSION_KEY] = [member.pk, session.get("signed_in_at")]
    session.save()


def emailed_path(mail, start: str = "/") -> str:
    """The path of the link in `mail` (a sent message or its text) to a page under `start`,
    as the member's mail program shows it (accounts.links reads it the way it was built)."""
    body = mail if isinstance(mail, str) else mail.body
    path = links.emailed_path(body, start)
    assert path is not None, f"no link to {start} in:\n{body}"
    return path


def reset_link(kind: str, member) -> str:
    """The path a reset email ("password" or "pin") would hold for `member` right now."""
    from accounts.flows.reset import ResetKind

    return links.reset_path(ResetKind.named(kind), member)


@contextlib.contextmanager
def a_minute_ago(token_generator, requested_kind: str):
    """Ask for a reset link as if a minute ago: the link's token and the request's log entry
    both dated then (a newer request in the test then really is newer, and no longer the
    second press of one button, reset.LINKS_APART)."""
    then = datetime.datetime.now() - MINUTE  # the token's naive clock
    before = set(SecurityEvent.objects.values_list("pk", flat=True))
    token_generator._now = lambda: then
    try:
        yield
    finally:
        del token_generator._now
    SecurityEvent.objects.exclude(pk__in=before).filter(kind=requested_kind).update(
        created=F("created") - MINUTE
    )


def a_minute_on(member) -> None:
    """As if a minute had passed since the member's reset links were mailed: another can go
    (reset.LINKS_APART), the hour's limit still counts them."""
    member.security_events.update(created=F("created") - MINUTE)


def browser_sends(page: str, name: str) -> str:
    """The value of the page's input `name` as a browser submits it. A browser sends no
    disabled input: a hidden version or token marked so never came back from a real page,
    while a test posting it by hand passed."""
    for tag in re.findall(r"<input\b[^>]*>", page):
        if f'name="{name}"' in tag:
            assert not re.search(r"\sdisabled\b", tag), f"a browser does not send {tag}"
            return re.search(r'value="([^"]*)"', tag)[1]
    raise AssertionError(f"no input named {name!r} on the page")


def switch_language(page, language: str = "en"):
    """Press the header's language switch on `page` (a response the test client landed on)
    as a browser does: CSRF checked, the form sent with the Origin the page's
    Referrer-Policy lets the browser send. Under no-referrer that is "Origin: null", which
    CSRF protection refuses (403); under the site's same-origin policy, the site's own."""
    form = re.search(r'<form class="menu-panel".*?</form>', page.content.decode(), re.S)[0]
    origin = "null" if page["Referrer-Policy"] == "no-referrer" else "http://testserver"
    data = {
        "csrfmiddlewaretoken": browser_sends(form, "csrfmiddlewaretoken"),
        "next": html.unescape(browser_sends(form, "next")),
        "language": language,
    }
    handler = page.client.handler
    enforced, handler.enforce_csrf_checks = handler.enforce_csrf_checks, True
    try:
        return page.client.post("/i18n/setlang/", data, HTTP_ORIGIN=origin)
    finally:
        handler.enforce_csrf_checks = enforced
