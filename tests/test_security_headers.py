"""Issue 8: what every page tells the browser about framing, scripts, referrers, caching and
cookies, under the production settings (read from jenco.settings with DEBUG off, so the
figures hold even when the suite runs with DEBUG=1 as `make test` does)."""

import json
import os
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest

from tests.helpers import BACKOFFICE_PAGES, reset_link, sign_in, solved_captcha, wrong_captcha

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parent.parent
PRODUCTION_ENV = {
    "DEBUG": "0",
    "SECRET_KEY": "production-like-" + "s" * 50,
    "ALLOWED_HOSTS": "members.jenco.example",
    "SITE_URL": "https://members.jenco.example",
}
SECURITY_SETTINGS = [
    "DEBUG",
    "SESSION_COOKIE_SECURE",
    "CSRF_COOKIE_SECURE",
    "LANGUAGE_COOKIE_SECURE",
    "SESSION_COOKIE_HTTPONLY",
    "CSRF_COOKIE_HTTPONLY",
    "LANGUAGE_COOKIE_HTTPONLY",
    "SESSION_COOKIE_SAMESITE",
    "CSRF_COOKIE_SAMESITE",
    "LANGUAGE_COOKIE_SAMESITE",
    "SECURE_HSTS_SECONDS",
    "SECURE_HSTS_INCLUDE_SUBDOMAINS",
    "SECURE_HSTS_PRELOAD",
    "SECURE_CSP",
    "X_FRAME_OPTIONS",
    "SECURE_CONTENT_TYPE_NOSNIFF",
    "SECURE_REFERRER_POLICY",
    "SECURE_CROSS_ORIGIN_OPENER_POLICY",
]


def settings_of(env: dict) -> dict:
    """The security settings jenco.settings computes for an environment, read in a fresh
    interpreter (they are decided at import time from DEBUG)."""
    script = (
        "import json; from django.conf import settings as s; "
        f"print(json.dumps({{k: getattr(s, k) for k in {SECURITY_SETTINGS!r}}}))"
    )
    base = {k: v for k, v in os.environ.items() if k not in PRODUCTION_ENV}
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env={**base, "DJANGO_SETTINGS_MODULE": "jenco.settings", **env},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


@pytest.fixture(scope="session")
def production() -> dict:
    return settings_of(PRODUCTION_ENV)


@pytest.fixture(autouse=True)
def _production_settings(settings, production):
    for name, value in production.items():
        setattr(settings, name, value)


# --- The pages -------------------------------------------------------------------------------


def _locked_out(client, member):
    for n in range(10):
        client.post(
            "/login/",
            {"username": "JPN1000001", "password": "wrong", **wrong_captcha()},
            REMOTE_ADDR=f"10.9.0.{n}",
            secure=True,
        )
    return sign_in(client, secure=True)


ANONYMOUS_PAGES = {
    "/login/": lambda c, m: c.get("/login/", secure=True),
    "/login/ with an error": lambda c, m: sign_in(c, password="wrong-password", secure=True),
    "/login/ locked out (429)": _locked_out,
    "/password/forgot/": lambda c, m: c.get("/password/forgot/", secure=True),
    "/password/forgot/ with an error": lambda c, m: c.post(
        "/password/forgot/", {"username": "x", "email": "y"}, secure=True
    ),
    "/password/forgot/sent/": lambda c, m: c.get("/password/forgot/sent/", secure=True),
    "/pin/forgot/": lambda c, m: c.get("/pin/forgot/", secure=True),
    "/pin/forgot/sent/": lambda c, m: c.get("/pin/forgot/sent/", secure=True),
    "/password/reset/done/": lambda c, m: c.get("/password/reset/done/", secure=True),
    "/pin/reset/done/": lambda c, m: c.get("/pin/reset/done/", secure=True),
    # Where an emailed link that cannot be used leads: no token, so its forms can be sent.
    "/password/reset/link/unusable/": lambda c, m: c.get(
        "/password/reset/link/unusable/", secure=True
    ),
    "/pin/reset/link/unusable/": lambda c, m: c.get("/pin/reset/link/unusable/", secure=True),
    "/register/verify/unusable/": lambda c, m: c.get("/register/verify/unusable/", secure=True),
    "/email/correct/unusable/": lambda c, m: c.get("/email/correct/unusable/", secure=True),
    "/healthz": lambda c, m: c.get("/healthz", secure=True),
    "a 404 page": lambda c, m: c.get("/no-such-page/", secure=True),
}

# The pages under an emailed link: their address must never travel on as a Referer.
TOKEN_PAGES = {
    "/password/reset/<uid>/<token>/ (the emailed link)": lambda c, m: c.get(
        reset_link("password", m), secure=True
    ),
    "/password/reset/<uid>/set-password/": lambda c, m: c.get(
        c.get(reset_link("password", m), secure=True)["Location"], secure=True
    ),
    "/password/reset/<uid>/set-password/ with an error": lambda c, m: c.post(
        c.get(reset_link("password", m), secure=True)["Location"],
        {"new_password1": "a", "new_password2": "b", **solved_captcha()},
        secure=True,
    ),
    "/password/reset/<uid>/<token>/ expired or wrong": lambda c, m: c.get(
        "/password/reset/MQ/abc-0123456789abcdef/", secure=True
    ),
    "/pin/reset/<uid>/<token>/ (the emailed link)": lambda c, m: c.get(
        reset_link("pin", m), secure=True
    ),
    "/pin/reset/<uid>/set-pin/": lambda c, m: c.get(
        c.get(reset_link("pin", m), secure=True)["Location"], secure=True
    ),
    "/pin/reset/<uid>/<token>/ expired or wrong": lambda c, m: c.get(
        "/pin/reset/MQ/abc-0123456789abcdef/", secure=True
    ),
}

MEMBER_PAGES = BACKOFFICE_PAGES

STAFF_PAGES = ["/admin/", "/admin/accounts/member/", "/admin/accounts/member/{pk}/change/"]

ALL_PAGES = [*ANONYMOUS_PAGES, *TOKEN_PAGES, *MEMBER_PAGES, *STAFF_PAGES]


@pytest.fixture
def open_page(client, member, staff):
    def open_(name: str):
        if name in ANONYMOUS_PAGES:
            return ANONYMOUS_PAGES[name](client, member)
        if name in TOKEN_PAGES:
            return TOKEN_PAGES[name](client, member)
        if name in MEMBER_PAGES:
            assert sign_in(client, secure=True).status_code == 302
            return client.get(name, secure=True)
        client.force_login(staff)
        return client.get(name.format(pk=member.pk), secure=True)

    return open_


def csp_directives(response) -> dict[str, list[str]]:
    header = response.headers.get("Content-Security-Policy")
    assert header, "no Content-Security-Policy header"
    directives = {}
    for part in header.split(";"):
        words = part.split()
        if words:
            directives[words[0].lower()] = words[1:]
    return directives


class PageScan(HTMLParser):
    """What in a page a strict CSP would block, or what fetches from elsewhere."""

    def __init__(self, nonce: str | None):
        super().__init__(convert_charrefs=True)
        self.nonce = nonce
        self.problems: list[str] = []
        self._inline_script: dict | None = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        line = self.getpos()[0]
        if "style" in attrs:
            self.problems.append(f"line {line}: <{tag} style={attrs['style']!r}>")
        for name, value in attrs.items():
            if name.startswith("on"):
                self.problems.append(f"line {line}: <{tag} {name}={value!r}> (inline handler)")
            if name in ("href", "src", "action") and (value or "").strip().lower().startswith(
                "javascript:"
            ):
                self.problems.append(f"line {line}: <{tag} {name}={value!r}>")
            off_site = (value or "").startswith(("//", "http:", "https:"))
            if name in ("src", "href") and tag in ("script", "link", "img", "iframe") and off_site:
                self.problems.append(f"line {line}: <{tag} {name}={value!r}> (off-site)")
        if tag == "style":
            self.problems.append(f"line {line}: <style> block")
        if tag == "script" and not attrs.get("src"):
            self._inline_script = {"line": line, "nonce": attrs.get("nonce")}

    def handle_endtag(self, tag):
        if tag == "script" and self._inline_script is not None:
            script = self._inline_script
            self._inline_script = None
            if not script["nonce"] or script["nonce"] != self.nonce:
                self.problems.append(
                    f"line {script['line']}: inline <script> without this response's nonce"
                )


def nonce_of(response) -> str | None:
    for source in csp_directives(response).get("script-src", []):
        if source.startswith("'nonce-"):
            return source.removeprefix("'nonce-").rstrip("'")
    return None


# --- Headers on every page -------------------------------------------------------------------


@pytest.mark.parametrize("page", ALL_PAGES)
def test_every_page_sends_a_strict_content_security_policy(open_page, page):
    response = open_page(page)
    directives = csp_directives(response)
    for directive in ("script-src", "style-src"):
        sources = directives.get(directive) or directives.get("default-src")
        assert sources, f"{directive} is not limited"
        assert "'unsafe-inline'" not in sources, f"{directive} allows 'unsafe-inline'"
        assert "*" not in sources
    assert "'unsafe-eval'" not in directives.get("script-src", [])
    assert directives.get("frame-ancestors") == ["'none'"]
    assert directives.get("object-src") == ["'none'"]


@pytest.mark.parametrize("page", ALL_PAGES)
def test_every_page_refuses_framing_and_sniffing_and_keeps_its_window(open_page, page):
    response = open_page(page)
    assert response.headers.get("X-Frame-Options") == "DENY"
    assert response.headers.get("X-Content-Type-Options") == "nosniff"
    assert response.headers.get("Cross-Origin-Opener-Policy") == "same-origin"


@pytest.mark.parametrize("page", [*ANONYMOUS_PAGES, *MEMBER_PAGES, *STAFF_PAGES])
def test_ordinary_pages_send_the_referrer_only_to_ourselves(open_page, page):
    expected = {"same-origin"}
    if page.endswith("/reset/done/"):
        expected.add("no-referrer")  # stricter is fine
    assert open_page(page).headers.get("Referrer-Policy") in expected


@pytest.mark.parametrize("page", [p for p in TOKEN_PAGES if "<token>" in p])
def test_an_address_holding_a_token_sends_no_referrer_at_all(open_page, page):
    assert open_page(page).headers.get("Referrer-Policy") == "no-referrer"


@pytest.mark.parametrize("page", [p for p in TOKEN_PAGES if "set-password" in p])
def test_the_form_under_a_link_holds_no_token_and_can_be_sent(open_page, page, member):
    """Its address holds no token, and its policy lets the browser send the form's Origin
    (under no-referrer it would send "Origin: null", and CSRF protection would refuse it:
    tests/e2e/test_forgot_journey.py submits the forms in Chromium)."""
    response = open_page(page)
    assert response.request["PATH_INFO"].endswith("/set-password/")
    assert response.headers.get("Referrer-Policy") == "same-origin"


@pytest.mark.parametrize("page", ALL_PAGES)
def test_https_responses_carry_hsts(open_page, page, production):
    assert production["SECURE_HSTS_SECONDS"] > 0
    hsts = open_page(page).headers.get("Strict-Transport-Security", "")
    assert f"max-age={production['SECURE_HSTS_SECONDS']}" in hsts
    assert "includeSubDomains" in hsts


@pytest.mark.parametrize("page", ALL_PAGES)
def test_no_page_has_inline_script_or_style_the_policy_would_block(open_page, page):
    response = open_page(page)
    if not response.get("Content-Type", "").startswith("text/html"):
        return
    scan = PageScan(nonce_of(response))
    scan.feed(response.content.decode())
    assert scan.problems == [], f"{page}: " + "; ".join(scan.problems)


def test_the_page_scan_catches_what_it_looks_for():
    scan = PageScan(nonce="n1")
    scan.feed(
        '<div style="color:red"><style>p{}</style><script>x()</script>'
        '<script nonce="n1">ok()</script><img src=x onerror="alert(1)">'
        '<a href="javascript:alert(1)">x</a><script src="https://cdn.example/x.js"></script>'
    )
    assert len(scan.problems) == 6


@pytest.mark.parametrize("page", [*MEMBER_PAGES, *STAFF_PAGES])
def test_signed_in_pages_are_never_stored_by_a_cache(open_page, page):
    # A shared computer's browser cache or a proxy must not keep a member's pages.
    cache_control = open_page(page).headers.get("Cache-Control", "")
    directives = {d.strip().split("=")[0].lower() for d in cache_control.split(",")}
    assert directives & {"no-store", "private"}, f"{page}: Cache-Control {cache_control!r}"


@pytest.mark.parametrize("page", TOKEN_PAGES)
def test_pages_under_an_emailed_link_are_never_stored_by_a_cache(open_page, page):
    assert "no-store" in open_page(page).headers.get("Cache-Control", "")


# --- Cookies ---------------------------------------------------------------------------------


def test_production_ties_the_secure_cookie_flags_and_hsts_to_debug_off(production):
    development = settings_of({**PRODUCTION_ENV, "DEBUG": "1"})
    for name in ("SESSION_COOKIE_SECURE", "CSRF_COOKIE_SECURE", "LANGUAGE_COOKIE_SECURE"):
        assert production[name] is True, name
        assert development[name] is False, name
    assert production["SECURE_HSTS_SECONDS"] >= 60 * 60 * 24 * 365


def assert_cookie_is_locked_down(cookie, name):
    assert cookie["httponly"], f"{name} is readable by scripts"
    assert cookie["samesite"] == "Lax", f"{name} SameSite={cookie['samesite']!r}"
    assert cookie["secure"], f"{name} travels over plain http"


def test_the_session_csrf_and_language_cookies_are_locked_down(client, member):
    client.get("/login/", secure=True)
    assert_cookie_is_locked_down(client.cookies["csrftoken"], "csrftoken")
    response = sign_in(client, secure=True)
    assert response.status_code == 302
    for name in ("sessionid", "csrftoken", "django_language"):
        assert name in response.cookies, f"{name} not set at sign-in"
        assert_cookie_is_locked_down(response.cookies[name], name)


def test_the_language_switch_cookie_is_locked_down(client):
    response = client.post("/i18n/setlang/", {"language": "en", "next": "/login/"}, secure=True)
    assert_cookie_is_locked_down(response.cookies["django_language"], "django_language")


def test_a_shown_message_is_deleted_under_the_flags_it_was_set_with(member_client):
    """The four-role trial: the delete came without Secure, curl kept the Secure cookie, and
    the message stayed on every later page (jenco/cookies.py)."""
    posted = member_client.post("/pin/forgot/", secure=True)
    assert_cookie_is_locked_down(posted.cookies["messages"], "messages")
    shown = member_client.get(posted["Location"], secure=True)
    assert "PINコード" in shown.content.decode()
    deleted = shown.cookies["messages"]
    assert deleted.value == "" and deleted["max-age"] == 0
    assert_cookie_is_locked_down(deleted, "messages (deleted)")
    assert "messages" not in member_client.get(posted["Location"], secure=True).cookies


def test_signing_out_deletes_the_session_cookie_under_its_flags(member_client):
    response = member_client.post("/logout/", secure=True)
    deleted = response.cookies["sessionid"]
    assert deleted.value == "" and deleted["max-age"] == 0
    assert_cookie_is_locked_down(deleted, "sessionid (deleted)")
