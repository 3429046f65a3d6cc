"""What a sign-in and a page view cost the database (issue 13's cost goals).

The counts are what an operator watching the database sees: statements, and write
transactions (an INSERT, UPDATE or DELETE on its own, or a transaction that holds some).
Inside a test everything runs in the test's own transaction, so a transaction of the code's
shows up as a SAVEPOINT ... RELEASE.
"""

import re
import time

import pytest
from captcha.models import CaptchaStore
from django.contrib.auth import SESSION_KEY
from django.contrib.sessions.models import Session
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.forms import LoginForm
from accounts.models import SecurityEvent
from tests.helpers import DEFAULT_PASSWORD, PASSWORD, solved_captcha

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _sessions_in_the_database(settings):
    # These count what a sign-in writes to the database, sessions included: the store used
    # without REDIS_URL. (With it, sessions live in Redis and the database writes fewer.)
    settings.SESSION_ENGINE = "accounts.sessions"
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    # The ticker's quotes as on a running site: read once a minute into the cache (shared by
    # the app servers), not by each page (tests/test_ticker.py).
    from backoffice import ticker

    ticker.strip()


WRITES = ("INSERT", "UPDATE", "DELETE")


class WriteTransactions:
    """Counts the write transactions the database runs: each write statement outside a
    transaction is one, and a transaction (transaction.atomic, however nested) that holds
    writes is one. Read from Django's own record of open atomic blocks, so the test's
    surrounding transaction does not hide the code's."""

    def __init__(self):
        self.transactions = []
        self.alone = 0

    def __enter__(self):
        self.outside = len(connection.atomic_blocks)  # the test's own blocks
        self.wrapper = connection.execute_wrapper(self)
        self.wrapper.__enter__()
        return self

    def __exit__(self, *exc):
        self.wrapper.__exit__(*exc)

    def __call__(self, execute, sql, params, many, context):
        if sql.lstrip().upper().startswith(WRITES):
            blocks = connection.atomic_blocks[self.outside :]
            if not blocks:
                self.alone += 1
            elif not any(block is blocks[0] for block in self.transactions):
                self.transactions.append(blocks[0])
        return execute(sql, params, many, context)

    @property
    def count(self) -> int:
        return self.alone + len(self.transactions)


def sign_in_post(client, username, password, captcha=None):
    data = {"username": username, "password": password, **(captcha or solved_captcha())}
    return client.post("/login/", data)


def the_sign_in_page(client):
    """GET /login/ and what it cost; then the page's own captcha, answered as a member would."""
    with CaptureQueriesContext(connection) as captured, WriteTransactions() as writes:
        response = client.get("/login/")
    key = re.search(r'name="captcha_0" value="([0-9a-f]+)"', response.content.decode())[1]
    answer = CaptchaStore.objects.get(hashkey=key).response
    return {"captcha_0": key, "captcha_1": answer}, len(captured), writes.count


def a_whole_sign_in(client, username, password, max_statements, assert_max_num_queries):
    """GET /login/ and POST it as a member would: the answer, and the statements and write
    transactions of both requests together (at most `max_statements`, or the test fails)."""
    captcha, page_statements, page_writes = the_sign_in_page(client)
    with (
        assert_max_num_queries(max_statements - page_statements) as captured,
        WriteTransactions() as writes,
    ):
        response = sign_in_post(client, username, password, captcha)
    return response, page_statements + len(captured), page_writes + writes.count


def test_the_sign_in_page_writes_one_row_its_captcha(client, django_assert_max_num_queries):
    with django_assert_max_num_queries(1), WriteTransactions() as writes:
        response = client.get("/login/")

    assert response.status_code == 200
    assert writes.count == 1
    assert CaptchaStore.objects.count() == 1


def test_a_sign_in_runs_at_most_12_statements_in_2_write_transactions(
    client, member, django_assert_max_num_queries
):
    response, _statements, writes = a_whole_sign_in(
        client, "JPN1000001", PASSWORD, 12, django_assert_max_num_queries
    )

    assert response["Location"] == "/backoffice/"
    assert writes == 2  # the captcha; then the sign-in's one
    assert client.session[SESSION_KEY] == str(member.pk)
    assert Session.objects.count() == 1  # written once, under its new key
    assert SecurityEvent.objects.filter(kind="sign_in", member=member).count() == 1


@pytest.mark.parametrize(
    "username, password",
    [("JPN1000001", "not-the-password-1"), ("JPN1999999", "not-the-password-1")],
    ids=["wrong password", "unknown ID"],
)
def test_a_failed_sign_in_costs_the_same_whether_or_not_the_id_exists(
    client, member, username, password, django_assert_max_num_queries
):
    response, statements, writes = a_whole_sign_in(
        client, username, password, 12, django_assert_max_num_queries
    )

    assert "会員IDまたはパスワードが正しくありません" in response.content.decode()
    # The captcha; the failure's count; the post's captcha and log; the next captcha.
    assert writes == 4
    # The same statements for both, the failures read again once this one is written among
    # them (posts checked alongside may have written theirs: accounts.lockout).
    assert statements == 12


def test_a_sign_in_on_the_default_password_adds_the_address_count_and_the_mailbox_code(
    client, migrated_member, django_assert_max_num_queries
):
    # Eight statements more than a sign-in: the address's count (written, then read again,
    # since posts alongside may have written theirs: the one that reaches the limit logs the
    # pause), and the mailbox code's lock, the member's wrong codes of the hour, limits, row
    # and log entry in a savepoint of their own (accounts.flows.mailbox).
    response, _statements, writes = a_whole_sign_in(
        client, "JPN2000001", DEFAULT_PASSWORD, 20, django_assert_max_num_queries
    )

    assert response["Location"] == "/backoffice/"
    assert writes == 2
    assert migrated_member.mailbox_codes.count() == 1


def test_a_signed_in_page_view_writes_nothing(client, member, django_assert_max_num_queries):
    sign_in_post(client, "JPN1000001", PASSWORD)
    row = Session.objects.get()

    with django_assert_max_num_queries(3), WriteTransactions() as writes:
        response = client.get("/backoffice/")

    assert response.status_code == 200
    assert writes.count == 0
    assert "sessionid" not in response.cookies  # nothing to renew yet
    assert Session.objects.get().expire_date == row.expire_date


def test_an_active_member_s_session_is_renewed_every_few_minutes(client, member, settings):
    sign_in_post(client, "JPN1000001", PASSWORD)
    session = client.session
    session["seen_at"] = int(time.time()) - settings.JENCO_SESSION_REFRESH_SECONDS - 1
    session.save()
    Session.objects.update(expire_date=timezone.now() + timezone.timedelta(minutes=1))

    response = client.get("/backoffice/")

    assert response.status_code == 200
    assert response.cookies["sessionid"]["max-age"] == settings.SESSION_COOKIE_AGE
    left = (Session.objects.get().expire_date - timezone.now()).total_seconds()
    assert left > settings.SESSION_COOKIE_AGE - 60


def test_a_member_who_keeps_using_the_site_stays_signed_in_past_the_idle_timeout(
    client, member, settings
):
    settings.SESSION_COOKIE_AGE = 2
    settings.JENCO_SESSION_REFRESH_SECONDS = 0
    sign_in_post(client, "JPN1000001", PASSWORD)
    for _ in range(2):
        time.sleep(1.1)
        assert client.get("/backoffice/").status_code == 200

    assert client.get("/backoffice/").status_code == 200  # 2.2 s after signing in


def test_a_member_idle_past_the_timeout_is_signed_out(client, member, settings):
    settings.SESSION_COOKIE_AGE = 1
    sign_in_post(client, "JPN1000001", PASSWORD)
    time.sleep(1.2)

    response = client.get("/backoffice/")

    assert response["Location"] == "/login/?next=/backoffice/"


def test_an_active_member_is_signed_out_at_the_absolute_lifetime(client, member, settings):
    sign_in_post(client, "JPN1000001", PASSWORD)
    session = client.session
    session["signed_in_at"] = int(time.time()) - settings.JENCO_SESSION_MAX_SECONDS - 1
    session["seen_at"] = int(time.time())  # active a moment ago
    session.save()

    response = client.get("/backoffice/")

    assert response["Location"] == "/login/?next=/backoffice/"
    assert SESSION_KEY not in client.session


def test_a_captcha_answers_one_sign_in_post_only(client, member):
    captcha = solved_captcha()
    sign_in_post(client, "JPN1000001", "not-the-password-1", captcha)

    response = sign_in_post(client, "JPN1000001", PASSWORD, captcha)

    assert response.status_code == 200
    assert "画像の数字と一致しません" in response.content.decode()
    assert SESSION_KEY not in client.session


def test_a_wrong_captcha_answer_uses_the_picture_up(client, member):
    captcha = solved_captcha()
    right = captcha["captcha_1"]
    sign_in_post(client, "JPN1000001", PASSWORD, {**captcha, "captcha_1": "x"})

    response = sign_in_post(client, "JPN1000001", PASSWORD, {**captcha, "captcha_1": right})

    assert "画像の数字と一致しません" in response.content.decode()
    assert SESSION_KEY not in client.session


@pytest.mark.parametrize(
    "post",
    [
        None,
        {"username": "jpn 12", "password": "x"},
        {"username": "", "password": ""},
        {"username": "JPN1000001", "password": "not-the-password-1"},
        {"username": "JPN1000001", "password": PASSWORD, "captcha_1": "9999x"},
    ],
    ids=["empty", "bad ID", "nothing typed", "wrong password", "wrong captcha"],
)
def test_the_sign_in_form_has_the_markup_of_every_other_form(client, member, post):
    """login.html writes its form out by hand (Django's field templates were most of the
    page's cost): what a browser gets must still be what form_fields.html gives."""
    from django.template.loader import render_to_string
    from django.test import RequestFactory

    if post is None:
        page = client.get("/login/").content.decode()
        form = LoginForm(None)
    else:
        page = client.post("/login/", {**solved_captcha(), **post}).content.decode()
        # The page is filled in from a copy (accounts/pages.py), which has no form to look at:
        # the same post, checked again (with a captcha of its own, the first one is used up).
        again = {**solved_captcha(), **post}
        form = LoginForm(RequestFactory().post("/login/", again), data=again)
        form.is_valid()
    generic = render_to_string("form_fields.html", {"form": form})

    def markup(html):
        html = re.sub(r'(value|src)="[0-9a-f]{40}"|src="[^"]*"', "", html)
        found = re.findall(r"<(?:input|label|legend|img|ul|li|fieldset|div)\b[^>]*>[^<]*", html)
        return [" ".join(tag.split()) for tag in found]

    form = page[page.index('action="/login/"') : page.index('type="submit" class="primary"')]
    assert markup(form)[2:] == markup(generic)  # after the CSRF token and "next"


@pytest.mark.parametrize("language", ["ja", "en"])
@pytest.mark.parametrize(
    "query",
    ["", "?next=/backoffice/profile/", "?next=%22%3E%3Cscript%3Ealert(1)%3C/script%3E&x=%E3%81%82"],
    ids=["plain", "next", "hostile query"],
)
@pytest.mark.parametrize("defaults_open", [True, False], ids=["defaults open", "closed"])
@pytest.mark.parametrize(
    "registration_open", [True, False], ids=["registration", "no registration"]
)
def test_the_blank_sign_in_page_is_the_page_its_template_gives(
    client, settings, language, query, defaults_open, registration_open
):
    """GET /login/ is served from a copy rendered once and filled in per request: it must be,
    byte for byte, what the template renders for this request, in each language, whatever the
    query string holds, whether or not the default credentials still work and whether or not
    registration is open (its link)."""
    from django.contrib.auth.models import AnonymousUser
    from django.template.loader import render_to_string
    from django.test import RequestFactory
    from django.utils import translation

    from accounts.views import _safe_next

    if not defaults_open:
        settings.JENCO_DEFAULT_CREDENTIALS_UNTIL = timezone.localdate() - timezone.timedelta(1)
    settings.JENCO_REGISTRATION_OPEN = registration_open
    for _visitor in range(2):  # the first renders the copy, the second is served from it
        client.cookies.clear()
        page = client.get(f"/login/{query}", headers={"accept-language": language})
        page = page.content.decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)[1]
    key = re.search(r'name="captcha_0" value="([0-9a-f]{40})"', page)[1]
    assert CaptchaStore.objects.filter(hashkey=key).exists()

    request = RequestFactory().get(f"/login/{query}")
    request.user = AnonymousUser()
    context = {
        "form": LoginForm(request),
        "captcha": LoginForm.captcha_urls(key),
        "next": _safe_next(request),
        "csrf_token": token,
        "registration_open": registration_open,
    }
    with translation.override(language):
        assert page == render_to_string("accounts/login.html", context, request)
    assert ('href="/register/"' in page) is registration_open


@pytest.mark.parametrize("language", ["ja", "en"])
@pytest.mark.parametrize(
    ("post", "earlier_id"),
    [
        ({"username": "JPN1000001", "password": "not-the-password-1"}, "JPN9999999"),
        (
            {"username": "JPN7777777", "password": "wrong", "view_only": "on"},
            "JPN1000001",
        ),
        (
            {"username": "ＪＰＮ１０００００１", "password": PASSWORD, "captcha_1": "9999x"},
            "JPN9999999",
        ),
        ({"username": '"><script>alert(1)</script>&amp;', "password": "x"}, "JPN9"),
        ({"username": "", "password": ""}, ""),
        ({"username": "   ", "password": "x", "view_only": "on"}, " "),
    ],
    ids=[
        "wrong password",
        "unknown ID, view only",
        "wrong captcha",
        "hostile ID",
        "empty",
        "spaces",
    ],
)
def test_a_failed_sign_in_page_is_the_page_its_template_gives(
    client, member, language, post, earlier_id
):
    """A failed post whose errors read the same for every post is answered from a copy
    (accounts/pages.py): byte for byte what the template renders for it, with the ID as typed
    (escaped) and the state of the view-only box, never the ID typed in the post the copy was
    made from (`earlier_id`, which got the same errors)."""
    from django.contrib.auth.models import AnonymousUser
    from django.template.loader import render_to_string
    from django.test import RequestFactory
    from django.utils import translation

    from accounts.flows import registration

    headers = {"accept-language": language}
    earlier = {**solved_captcha(), **post, "username": earlier_id}
    client.post("/login/?next=/backoffice/", earlier, headers=headers)  # makes the copy
    client.cookies.clear()
    data = {**solved_captcha(), **post}
    response = client.post("/login/?next=/backoffice/", data, headers=headers)
    assert "accounts/login.html" not in [t.name for t in response.templates]  # the copy
    page = response.content.decode()
    assert earlier_id.strip() not in page or not earlier_id.strip()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)[1]
    key = re.search(r'name="captcha_0" value="([0-9a-f]{40})"', page)[1]

    request = RequestFactory().post("/login/?next=/backoffice/", data)
    request.user = AnonymousUser()
    again = {**data, **solved_captcha(), "captcha_1": data["captcha_1"]}  # the first is used
    if "captcha_1" not in post:
        again["captcha_1"] = CaptchaStore.objects.get(hashkey=again["captcha_0"]).response
    form = LoginForm(request, data=again)
    form.is_valid()
    context = {
        "form": form,
        "typed_id": data["username"],
        "captcha": LoginForm.captcha_urls(key),
        "next": "/backoffice/",
        "csrf_token": token,
        "registration_open": registration.is_open(),
    }
    with translation.override(language):
        assert page == render_to_string("accounts/login.html", context, request)


def test_a_failed_sign_in_page_that_may_quote_the_post_is_rendered_in_full(client, member):
    """An error with parameters from what was posted (the password's length: Django's words
    quote it, ours do not) is never kept as a copy: the same post twice is rendered for
    each."""
    from accounts.forms import MAX_TYPED_PASSWORD

    too_long = "x" * (MAX_TYPED_PASSWORD + 1)
    for _post in range(2):
        data = {**solved_captcha(), "username": "JPN1000001", "password": too_long}
        response = client.post("/login/", data)
        assert "accounts/login.html" in [t.name for t in response.templates]
        assert "パスワードが長すぎます。" in response.content.decode()


def test_a_signed_in_member_s_failed_post_is_never_another_visitor_s_page(client, member):
    """A signed-in member who posts the sign-in form again gets a page whose header names
    them: it must not become the copy an anonymous visitor with the same errors is served."""
    from django.test import Client

    signed_in = Client()
    signed_in.force_login(member)
    wrong = {"username": "JPN1000001", "password": "not-the-password-1"}
    page = signed_in.post("/login/", {**solved_captcha(), **wrong}).content.decode()
    assert member.name in page  # their own header

    for visitor in range(2):  # the first makes the copy, the second is served from it
        client.cookies.clear()
        response = client.post("/login/", {**solved_captcha(), **wrong})
        page = response.content.decode()
        assert member.name not in page and 'class="who"' not in page
        rendered = "accounts/login.html" in [t.name for t in response.templates]
        assert rendered == (visitor == 0)


def test_each_visitor_gets_a_captcha_and_csrf_token_of_their_own(client):
    pages = []
    for _visitor in range(3):
        client.cookies.clear()
        pages.append(client.get("/login/").content.decode())
    keys = {re.search(r'name="captcha_0" value="([0-9a-f]{40})"', page)[1] for page in pages}
    tokens = {re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', p)[1] for p in pages}
    assert len(keys) == 3 and len(tokens) == 3
    assert all(f'src="/captcha/image/{key}/"' in "".join(pages) for key in keys)


def test_a_sign_in_page_with_a_message_to_show_is_rendered_in_full(client):
    from django.contrib.messages import constants
    from django.contrib.messages.storage.base import Message
    from django.contrib.messages.storage.cookie import CookieStorage
    from django.http import HttpResponse
    from django.test import RequestFactory

    storage, carrier = CookieStorage(RequestFactory().get("/")), HttpResponse()
    storage._store([Message(constants.SUCCESS, "Your PIN has been changed.")], carrier)
    client.cookies[storage.cookie_name] = carrier.cookies[storage.cookie_name].value

    response = client.get("/login/")
    assert "accounts/login.html" in [t.name for t in response.templates]  # rendered in full
    assert (
        '<li class="message success">Your PIN has been changed.</li>' in response.content.decode()
    )
    assert "Your PIN has been changed." not in client.get("/login/").content.decode()


def test_the_importer_writes_the_row_ja_member_would(tmp_path):
    """The importer's INSERT (accounts.ja_import._insert) skips bulk_create's per-field
    work: the member it writes must be the one ja_member makes."""
    from accounts.ja_accounts import ja_member
    from accounts.ja_import import import_members, scan
    from accounts.models import Member

    export = tmp_path / "ja.csv"
    export.write_text(
        "member_id,name,email,id_document_number,preferred_language\n"
        "JPN2000009,佐藤 花子,hanako@example.com,X1234567,en\n",
        encoding="utf-8",
    )
    import_members(scan(export))

    imported = Member.objects.get(member_id="JPN2000009")
    expected = ja_member(
        "JPN2000009",
        name="佐藤 花子",
        email="hanako@example.com",
        id_document_number="X1234567",
        preferred_language="en",
        now=imported.imported_at,
    )
    for field in Member._meta.concrete_fields:
        if field.attname not in ("id", "password"):
            assert getattr(imported, field.attname) == getattr(expected, field.attname), field
    assert not imported.has_usable_password()
    assert imported.on_default_password and imported.on_default_pin


def test_signing_out_writes_the_log_and_ends_the_session_only(client, member):
    sign_in_post(client, "JPN1000001", PASSWORD)

    with CaptureQueriesContext(connection) as captured:
        response = client.post("/logout/")

    assert response["Location"] == "/login/"
    assert not Session.objects.exists()
    assert not [q for q in captured.captured_queries if "axes_" in q["sql"]]  # axes' sweep
