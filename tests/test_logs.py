"""Issue 12, finding 12: emailed links' tokens stand in no log the project configures.

The penetration test found `GET /pin/reset/Nw/<token>/` in the app server's access log:
whoever reads the log could set the member's PIN. The app server's access log (gunicorn with
deploy/gunicorn.conf.py), runserver's request lines and Django's own logs now show
`[redacted]` where the uid and token were.
"""

import io
import logging
import os
import re
import runpy
import signal
import subprocess
import time
import urllib.error
import urllib.request

import pytest
from django.test import Client, RequestFactory

from tests.live_site import LiveSite
from tools import runserver
from tools.runserver import ROOT

PIN_LINK = "/pin/reset/Nw/abc-123def/"
PASSWORD_LINK = "/password/reset/MQ/xyz-456/"
EMAIL_LINK = "/backoffice/profile/email/confirm/mno-789/"
TOKENS = ["abc-123def", "xyz-456", "mno-789"]


def fetch(port: int, path: str, **headers) -> int:
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


# --- The app server: gunicorn with deploy/gunicorn.conf.py ----------------------------------


class Gunicorn:
    """gunicorn as production runs it, with the test settings on a migrated SQLite file."""

    def __init__(self, folder, **env):
        self.site = LiveSite(folder)
        self.port = runserver.free_port()
        self.access_log = folder / "access.log"
        self.error_log = folder / "error.log"
        self.env = env

    def __enter__(self):
        self.site.manage("migrate", "--verbosity", "0")
        env = self.site.env | {"GUNICORN_BIND": f"127.0.0.1:{self.port}", "GUNICORN_WORKERS": "2"}
        env |= self.env
        with self.access_log.open("w") as stdout, self.error_log.open("w") as stderr:
            self.process = runserver.start_command(
                runserver.GUNICORN, self.port, env, stdout, stderr, self.error_log, timeout=30
            )
        return self

    def __exit__(self, *exc):
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)  # workers finish, logs are flushed
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def test_the_app_servers_access_log_has_the_request_lines_but_not_the_tokens(tmp_path):
    with Gunicorn(tmp_path) as server:
        assert fetch(server.port, PIN_LINK) == 200
        referrer = f"https://jenco.example{PASSWORD_LINK}"
        assert fetch(server.port, PASSWORD_LINK, Referer=referrer) == 200
        # Signed out, the link leads to the sign-in page, the link's path in its query.
        assert fetch(server.port, EMAIL_LINK) == 200

    access = server.access_log.read_text()
    # A link that cannot be used goes on to a page of its own, logged as it is.
    assert '"GET /pin/reset/[redacted] HTTP/1.1" 302' in access
    assert '"GET /pin/reset/link/unusable/ HTTP/1.1" 200' in access
    assert '"GET /password/reset/[redacted] HTTP/1.1" 302' in access
    assert '"GET /password/reset/link/unusable/ HTTP/1.1" 200' in access
    assert '"https://jenco.example/password/reset/[redacted]"' in access  # the referrer
    # A link that cannot confirm anything says so at once, signed out (helper-132).
    assert '"GET /backoffice/profile/email/confirm/[redacted] HTTP/1.1" 302' in access
    assert '"GET /backoffice/profile/email/confirm/unusable/ HTTP/1.1" 200' in access
    for token in TOKENS:
        assert token not in access
        assert token not in server.error_log.read_text()


def test_behind_nginx_the_app_server_keeps_no_access_log_of_its_own(tmp_path):
    # deploy/jenco-web@.service sets GUNICORN_ACCESS_LOG empty: nginx logs every request.
    with Gunicorn(tmp_path, GUNICORN_ACCESS_LOG="") as server:
        assert fetch(server.port, "/login/") == 200
    assert "GET /login/" not in server.access_log.read_text()
    assert "GET /login/" not in server.error_log.read_text()


def test_a_mistyped_access_log_setting_stops_the_app_server_with_a_message(tmp_path):
    server = Gunicorn(tmp_path, GUNICORN_ACCESS_LOG="off")
    with pytest.raises(RuntimeError, match="GUNICORN_ACCESS_LOG must be - .*'off'"), server:
        pass
    assert not (ROOT / "off").exists()


def test_gunicorn_runs_one_worker_per_core_with_threads_and_more_without(monkeypatch):
    cores = len(os.sched_getaffinity(0))
    conf = str(ROOT / "deploy" / "gunicorn.conf.py")
    monkeypatch.delenv("GUNICORN_WORKERS", raising=False)
    monkeypatch.setenv("GUNICORN_THREADS", "4")  # jenco-web@.service, behind nginx
    assert runpy.run_path(conf)["workers"] == cores
    monkeypatch.setenv("GUNICORN_THREADS", "1")  # sync workers, gunicorn's own advice
    assert runpy.run_path(conf)["workers"] == 2 * cores + 1
    monkeypatch.setenv("GUNICORN_WORKERS", "3")
    assert runpy.run_path(conf)["workers"] == 3


def test_any_atom_an_operator_puts_in_the_access_log_format_is_redacted():
    """The format is the operator's: a header ({x-original-uri}i) or environ variable
    ({raw_uri}e) named there is redacted as it is read, like the request line."""
    config = runpy.run_path(str(ROOT / "deploy" / "gunicorn.conf.py"))
    atoms = config["RedactedAtoms"](
        {"{x-original-uri}i": PIN_LINK, "{raw_uri}e": PASSWORD_LINK, "s": 200, "a": "Mozilla"}
    )
    line = "%({X-Original-URI}i)s %({raw_uri}e)s %(s)s %(a)s %(missing)s" % atoms  # noqa: UP031 (gunicorn formats so)
    assert line == "/pin/reset/[redacted] /password/reset/[redacted] 200 Mozilla -"


# --- runserver's request lines (django.server) ----------------------------------------------


def test_runservers_request_lines_have_no_token(tmp_path):
    site = LiveSite(tmp_path)
    site.start()
    try:
        mark = site.log_mark()
        assert fetch(site.port, PIN_LINK) == 200
        assert fetch(site.port, "/password/reset/zz/xyz-456/oops/") == 404
        # runserver writes a request's line after its answer: wait for the last one before
        # stopping it (a fresh clone's run once read the log without the page's line).
        deadline = time.monotonic() + 10
        while '"GET /pin/reset/link/unusable/ HTTP/1.1" 200' not in site.server_log(mark):
            assert time.monotonic() < deadline
            time.sleep(0.05)
    finally:
        site.stop()

    log = site.server_log(mark)
    assert '"GET /pin/reset/[redacted] HTTP/1.1" 302' in log
    assert '"GET /pin/reset/link/unusable/ HTTP/1.1" 200' in log
    assert "/password/reset/[redacted]" in log
    for token in TOKENS:
        assert token not in log


# --- Django's own logs ------------------------------------------------------------------------


@pytest.fixture
def console():
    """What the configured console handler (the root's, LOGGING's "console") writes."""
    handler = next(h for h in logging.getLogger().handlers if h.get_name() == "console")
    written = io.StringIO()
    stream, handler.stream = handler.stream, written
    yield written
    handler.stream = stream


@pytest.mark.django_db
def test_djangos_logs_hold_no_token(client, caplog, console):
    caplog.set_level(logging.INFO)

    client.get(PIN_LINK)
    assert client.get("/password/reset/zz/xyz-456/oops/").status_code == 404
    # A form posted without its CSRF token: django.security.csrf logs the path.
    assert Client(enforce_csrf_checks=True).post(PIN_LINK).status_code == 403

    assert "Not Found: /password/reset/[redacted]" in caplog.text
    assert "/pin/reset/[redacted]" in caplog.text
    assert "Not Found: /password/reset/[redacted]" in console.getvalue()
    for token in TOKENS:
        assert token not in caplog.text
        assert token not in console.getvalue()


@pytest.mark.django_db
def test_a_path_or_header_sent_thousands_of_characters_long_is_logged_cut(client, console):
    # "Not Found: /login//bbbb…" and a CSRF refusal's Origin were logged whole, 15,000
    # characters a line, 30 lines a second from one address under nginx's limit (helper-135).
    assert client.get("/login//" + "b" * 15000).status_code == 404
    refused = Client(enforce_csrf_checks=True).post(
        "/login/", headers={"origin": "https://evil" + "o" * 5000}
    )
    assert refused.status_code == 403
    lines = console.getvalue().splitlines()
    assert any("Not Found: /login//bbbb" in line for line in lines)
    assert any("Forbidden (Origin checking failed - https://evilooo" in line for line in lines)
    assert max(len(line) for line in lines) < 1100
    assert all(line.endswith("...") for line in lines if "bbbb" in line or "oooo" in line)


def test_djangos_log_lines_carry_the_utc_offset_like_nginxs(console):
    """The app's lines are in Japan time (TIME_ZONE), as nginx's are under make serve: with
    the offset on both, a line in one is found in the other on any machine's zone."""
    logging.getLogger("jenco.test").warning("a line")
    assert re.match(
        r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \+0900 WARNING jenco.test a line", console.getvalue()
    )


@pytest.mark.django_db
def test_a_page_refused_to_staff_is_one_line_without_a_traceback(client, console, support_agent):
    # An agent opening a page their group may not: a 403, logged as one WARNING line. It was
    # followed by PermissionDenied's traceback, which buried the real ones (support trial).
    client.force_login(support_agent)
    assert client.get("/admin/auth/group/").status_code == 403
    written = console.getvalue()
    assert "WARNING django.request Forbidden (Permission denied): /admin/auth/group/" in written
    assert "Traceback" not in written and "PermissionDenied" not in written


@pytest.mark.django_db
def test_an_error_report_mailed_to_admins_holds_no_token(settings, mailoutbox):
    settings.ADMINS = ["ops@jenco.example"]
    request = RequestFactory().get(PIN_LINK)
    try:
        raise RuntimeError("the view failed")
    except RuntimeError:
        # What Django logs for an uncaught exception in a view (django.core.handlers.exception).
        logging.getLogger("django.request").error(
            "Internal Server Error: %s",
            request.path,
            exc_info=True,
            extra={"status_code": 500, "request": request},
        )

    [report] = mailoutbox
    assert "Internal Server Error: /pin/reset/[redacted]" in report.subject
    assert "the view failed" in report.body
    assert "abc-123def" not in report.subject + report.body


@pytest.mark.parametrize(
    "line",
    [
        "GET /password/reset//NQ/c3x-abcdef0123456789/ HTTP/1.1",  # hand-edited links: the
        "GET /Password/Reset/NQ/c3x-abcdef0123456789/ HTTP/1.1",  # retest found these kept
        "GET /pin/reset/NQ;c3x-abcdef0123456789/ HTTP/1.1",  # their token
        "Not Found: /password//reset/MQ/c3x-abcdef0123456789/",  # helper-109: Django's 404
        "Not Found: /pin//reset/MQ/c3x-abcdef0123456789/",  # line kept these
        "Not Found: /register//verify/c3x-abcdef0123456789/",
        "Not Found: /backoffice/profile//email/confirm/c3x-abcdef0123456789/",
        "GET /login/?next=%252Fpin%252Freset%252FNQ%252Fc3x-abcdef0123456789%252F HTTP/1.1",
    ],
)
def test_a_hand_edited_link_loses_its_token_too(line):
    from jenco.logfilters import redact

    assert "c3x-abcdef0123456789" not in redact(line)


@pytest.mark.parametrize(
    "line",
    [
        # gunicorn's error log prints a request line it refuses (a raw byte in its path)
        # with the path as sent: its letters percent-encoded kept the token (helper-108).
        "Invalid HTTP request line: 'GET /%70assword/reset/MQ/c3x-abcdef0123456789/\xff HTTP/1.1'",
        "GET /register/%76erify/c3x-abcdef0123456789/ HTTP/1.1",
        "GET /login/?next=%2F%70in%2Freset%2FNQ%2Fc3x-abcdef0123456789%2F HTTP/1.1",
        "GET /login/?next=%252F%2570in%252Freset%252FNQ%252Fc3x-abcdef0123456789 HTTP/1.1",
    ],
)
def test_a_link_with_letters_percent_encoded_loses_its_token_too(line):
    from jenco.logfilters import redact

    redacted = redact(line)
    assert "c3x-abcdef0123456789" not in redacted and "[redacted]" in redacted


def test_a_line_with_percent_signs_and_no_link_is_kept_as_it_is():
    from jenco.logfilters import redact

    line = '"GET /login/?next=%2Fbackoffice%2F&q=100%25 HTTP/1.1" 200 "https://a.example/%7Ex"'
    assert redact(line) == line


def test_the_email_correction_links_secret_is_redacted_too():
    from jenco.logfilters import redact

    assert redact("GET /email/correct/secret-token-5/ HTTP/1.1") == (
        "GET /email/correct/[redacted] HTTP/1.1"
    )
    assert "secret-token-5" not in redact("/login/?next=%2Femail%2Fcorrect%2Fsecret-token-5%2F")


def test_the_app_servers_log_lines_are_all_in_one_time_zone(tmp_path):
    # gunicorn's own lines were in the machine's zone (+0000), Django's in Japan time (+0900).
    with Gunicorn(tmp_path, TZ="UTC") as server:
        assert fetch(server.port, "/login/") == 200
    offsets = set(re.findall(r"\d\d:\d\d:\d\d ([+-]\d{4})\]", server.error_log.read_text()))
    offsets |= set(re.findall(r":\d\d:\d\d ([+-]\d{4})\]", server.access_log.read_text()))
    assert offsets == {"+0900"}


def test_registrations_fixed_confirm_page_is_not_taken_for_a_token():
    from jenco.logfilters import redact

    assert redact('"POST /register/verify/confirm/ HTTP/1.1" 302') == (
        '"POST /register/verify/confirm/ HTTP/1.1" 302'
    )
    assert redact("/login/?next=%2Fregister%2Fverify%2Fconfirm%2F") == (
        "/login/?next=%2Fregister%2Fverify%2Fconfirm%2F"
    )
    assert redact("GET /register/verify/confirm-abc/ x") == "GET /register/verify/[redacted] x"
    assert redact("GET /register/verify/abc/confirm/ x") == "GET /register/verify/[redacted] x"
    new_address = "POST /backoffice/profile/email/confirm/new-address/ HTTP/1.1"
    assert redact(new_address) == new_address


def test_a_link_thousands_of_characters_long_gets_the_sites_own_answer(tmp_path):
    # gunicorn's limit (4 KB by default, 8 KB at most) answered its own bare page before Django
    # saw it; nginx in front lets 16 KB through.
    with Gunicorn(tmp_path) as server:
        request = urllib.request.Request(
            f"http://127.0.0.1:{server.port}/password/reset/MQ/{'x' * 15000}/",
            headers={"Accept-Language": "ja"},
        )
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
            assert response.status == 200
            assert "このリンクは使えません" in response.read().decode()


def test_a_request_for_another_host_leaves_no_line_in_the_app_servers_log(tmp_path):
    # The logger kept out of the log had no handler: Python printed the bare message and a
    # 45-line traceback to stderr, with no time, level or redaction, for anyone to trigger.
    with Gunicorn(tmp_path) as server:
        assert fetch(server.port, "/login/", Host="localhost:evil") == 400
        assert fetch(server.port, "/login/") == 200
    log = server.error_log.read_text()
    assert "localhost:evil" not in log
    assert "Traceback" not in log


@pytest.mark.django_db
def test_a_query_string_of_too_many_fields_is_refused_without_a_traceback(client, console):
    # The attacker's trial: anyone, signed in or not, wrote Django's ERROR and its traceback
    # (and, in production, a mail to the admins) with one long address.
    many = "&".join(f"a{n}=1" for n in range(1100))
    assert client.get(f"/login/?{many}").status_code == 400
    written = console.getvalue()
    assert "Traceback" not in written and " ERROR " not in written


@pytest.mark.django_db
def test_an_address_that_would_make_an_over_long_sign_in_redirect_writes_no_error(client, console):
    # Signed out, a few KB of characters that grow when re-encoded made the sign-in redirect
    # longer than Django allows: a 400 and an ERROR with its traceback, mailed to the admins,
    # for anyone to repeat (helper-99).
    response = client.get("/backoffice/?x=" + "%E3%81%82" * 2000)
    assert response.status_code == 400
    written = console.getvalue()
    assert "Traceback" not in written and " ERROR " not in written


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/login/", "/register/", "/password/forgot/", "/nope/"])
def test_a_form_post_in_another_charset_is_a_400_with_one_line(path, console):
    # Django refuses such a form each time it is read: the CSRF check, then the 400 page's
    # and the 500 page's own checks, so anyone got gunicorn's bare 500 and about 110 lines
    # of tracebacks per post (helper-102).
    client = Client(enforce_csrf_checks=True)
    client.get("/login/")
    response = client.post(
        path,
        "username=JPN1000001",
        content_type="application/x-www-form-urlencoded; charset=latin-1",
        headers={"referer": "http://testserver/login/"},
    )
    assert response.status_code == 400
    assert "リクエストを処理できません" in response.content.decode()
    written = console.getvalue()
    assert "Traceback" not in written and " ERROR " not in written
    assert written.count("\n") == 1 and f"Bad Request: {path}" in written


@pytest.mark.django_db
@pytest.mark.parametrize("charset", ["rot13", "base64", "latin-1", "shift_jis"])
def test_a_multipart_form_in_another_charset_is_a_400_with_one_line(charset, console):
    # A codec that is not a text encoding raised LookupError in Django's multipart parser
    # during the CSRF check: a 500 and 31 lines of tracebacks, signed out (helper-103). (On
    # the app servers, jenco/wsgi.py drops such a charset first: the next test.)
    client = Client(enforce_csrf_checks=True)
    client.get("/login/")
    body = '--XX\r\nContent-Disposition: form-data; name="a"\r\n\r\nb\r\n--XX--\r\n'
    response = client.generic(  # as sent: post() would encode it in that charset
        "POST",
        "/login/",
        body,
        content_type=f"multipart/form-data; boundary=XX; charset={charset}",
        headers={"referer": "http://testserver/login/"},
    )
    assert response.status_code == 400
    written = console.getvalue()
    assert "Traceback" not in written and written.count("\n") == 1


def test_a_request_naming_a_codec_that_is_no_text_encoding_is_read_without_it(tmp_path):
    # Django decoded the query string with it while building the request, before any
    # middleware: a LookupError, gunicorn's bare 500 and 29 lines of traceback for anyone
    # (helper-104). The app server's WSGI application (jenco/wsgi.py) reads it as Django
    # reads a charset it does not know: not at all.
    # `undefined` decodes nothing, and `idna` refuses the replacement Django decodes a
    # query's %-escapes with: the same 500 (helper-110).
    # Django reads the last charset parameter, and RFC 2231's `charset*=` (helper-112).
    with Gunicorn(tmp_path) as server:
        for charset in ("rot13", "base64", '"zlib"', "undefined", "idna", "IDNA"):
            for content_type in (
                f"text/plain; charset={charset}",
                f"text/plain; charset=utf-8; charset={charset}",
                f"text/plain; charset*=utf-8''{charset.strip('"')}",
                f"multipart/form-data; boundary=X; CHARSET = {charset}",
            ):
                answered = fetch(
                    server.port, "/login/?next=%2Fbackoffice%2F", **{"Content-Type": content_type}
                )
                assert answered == 200, content_type
        # One that decodes but cannot write back what it replaced (ascii, shift_jis) was a
        # 500 on every admin list, which writes the query again (helper-114): the address
        # is read in UTF-8, as browsers write it, whatever the charset named.
        # Nor one Django cannot read at all (helper-115).
        for content_type in (
            "text/plain; charset*=bogus''%41",
            "text/plain; foo*=idna''%FF",
            "text/plain; x=" + "a" * 10001,
        ):
            assert fetch(server.port, "/login/?q=%FF", **{"Content-Type": content_type}) == 200
        for charset in ("utf-16", "ascii", "shift_jis", "euc_jp", "cp1252"):
            answered = fetch(
                server.port,
                "/healthz?a=%41%FF%C3%A9",
                **{"Content-Type": f"text/plain; charset={charset}"},
            )
            assert answered == 200, charset
    log = server.error_log.read_text()
    assert "Traceback" not in log and "LookupError" not in log and "UnicodeError" not in log


@pytest.mark.parametrize(
    ("method", "content_type", "kept"),
    [
        ("GET", "text/plain; charset=ascii", "text/plain"),
        ("GET", "text/plain; charset=shift_jis; charset*=utf-8''ascii", "text/plain"),
        ("POST", "text/plain; charset=euc_jp", "text/plain"),
        ("GET", "text/plain; charset=UTF-8", "text/plain; charset=UTF-8"),
        # A posted form keeps a text encoding: jenco/form_charset.py answers the site's 400.
        ("POST", "application/x-www-form-urlencoded; charset=shift_jis", None),
        ("POST", "multipart/form-data; boundary=X; charset=ascii", None),
        (
            "POST",
            "application/x-www-form-urlencoded; charset=rot13",
            "application/x-www-form-urlencoded",
        ),
        # No reading these: Django raised outside its handler, gunicorn's bare 500 (helper-115).
        ("GET", "text/plain; charset*=bogus''%41", ""),
        ("GET", "text/plain; foo*=idna''%FF", ""),
        (
            "POST",
            "application/x-www-form-urlencoded; charset*=utf-8''ascii%00",
            "application/x-www-form-urlencoded",
        ),
        ("GET", "text/plain; x=" + "a" * 10001, ""),
    ],
)
def test_the_query_is_read_in_utf8_whatever_charset_the_request_names(method, content_type, kept):
    # ascii or shift_jis decoded a query's %FF into a replacement character that admin could
    # not write back in them: a 500 on every admin list (helper-114).
    from jenco.wsgi import readable_content_type

    environ = {"REQUEST_METHOD": method, "CONTENT_TYPE": content_type}
    readable_content_type(environ)
    assert environ["CONTENT_TYPE"] == (content_type if kept is None else kept)


def test_the_pages_a_dead_link_leads_to_are_logged_as_they_are():
    # Fixed words (accounts.links.UNUSABLE): an operator tells a member's dead link from a
    # working one. A token in the same place is still redacted.
    from jenco.logfilters import redact

    for path in (
        "/password/reset/link/unusable/",
        "/pin/reset/link/unusable/",
        "/register/verify/unusable/",
        "/register/verify/created/",
        "/email/correct/unusable/",
        "/backoffice/profile/email/confirm/unusable/",
    ):
        assert redact(f'"GET {path} HTTP/1.1" 200') == f'"GET {path} HTTP/1.1" 200'
    assert redact("GET /password/reset/link/secret-token/ x") == "GET /password/reset/[redacted] x"
    assert redact("GET /password/reset/MQ/unusable/ x") == "GET /password/reset/[redacted] x"
    assert redact("GET /register/verify/unusable-secret/ x") == "GET /register/verify/[redacted] x"
