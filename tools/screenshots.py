"""Screenshots of JENCO's pages in Japanese and English, on a phone and on a desktop.

    make screenshots                        # or: .venv/bin/python tools/screenshots.py
    .venv/bin/python tools/screenshots.py --only login --only member-profile

It starts the app itself (runserver on a free localhost port, DEBUG=1, a throwaway SQLite
database in a temporary folder), creates the demo member migrated from JA and a member who
finished the migration, and drives Debian's Chromium through Playwright: every entry of PAGES,
in each language of LANGUAGES, at each size of VIEWPORTS, into
screenshots/<name>-<language>-<width>.png (git-ignored).

Signing in answers the captcha the way a test does: the answer is read from the database by
the hidden captcha key on the page. A path that answers 404 is skipped with a note (pages still
to be built). Console errors seen by the browser (Content-Security-Policy violations among them:
the policy forbids inline scripts and styles), server errors and pages in the wrong language
are written to screenshots/problems.txt and make the tool exit with status 1 — except the console
errors listed in tools/chromium.py's KNOWN_CONSOLE_ERRORS, printed without failing the run.
"""

from __future__ import annotations

import argparse
import itertools
import os
import re
import secrets
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from playwright.sync_api import Page, sync_playwright  # noqa: E402

from tools import runserver  # noqa: E402
from tools.chromium import describe, is_known, launch_args  # noqa: E402

LANGUAGES = ["ja", "en"]  # Japanese is the default; English is chosen with the page's switch
VIEWPORTS = [(375, 812), (1280, 800)]  # a phone, a desktop

# Who looks at a page.
ANONYMOUS = "anonymous"
DEMO = "demo"  # `manage.py create_demo_member`: migrated from JA, on the default credentials
MEMBER = "member"  # finished the migration: own password and PIN
VIEW_ONLY = "view-only"  # the same member, signed in with the sub password (read-only)
MEMBERS = {
    DEMO: ("JPN1234567", "jenco@12345"),
    MEMBER: ("JPN1000001", "plum-Blossom-2026"),
    VIEW_ONLY: ("JPN1000001", "willow-Creek-5512"),
}
MEMBER_PIN = "482916"
# Created through the ORM, the way conftest.py's `member` fixture does.
CREATE_MEMBER = f"""
from django.contrib.auth.hashers import make_password
from accounts.models import Member
Member.objects.create_user(
    {MEMBERS[MEMBER][0]!r}, email="taro@example.com", password={MEMBERS[MEMBER][1]!r},
    name="山田 太郎", pin=make_password({MEMBER_PIN!r}), id_document_number="AB98765432",
    sub_password=make_password({MEMBERS[VIEW_ONLY][1]!r}),
)
"""


@dataclass(frozen=True)
class Shot:
    """One screenshot: a page as someone sees it, after an optional action on it."""

    name: str
    path: str
    who: str = ANONYMOUS
    action: Callable[[Page, App], None] | None = None
    # The page's own status when it is meant to be an error (Chromium logs it as a console
    # error): not a problem for this shot.
    status: int | None = None


def submit_empty(page: Page, app: App) -> None:
    """Press “Log In” with nothing typed: every field says what it needs."""
    submit(page)


def submit_wrong_password(page: Page, app: App) -> None:
    """A well-formed member ID, a wrong password and the right captcha."""
    page.fill("input[name=username]", "JPN7654321")
    page.fill("input[name=password]", "not-the-password")
    answer_captcha(page, app)
    submit(page)


def pause_sign_in(page: Page, app: App) -> None:
    """Wrong passwords against one ID until signing in with it is paused: the page a member
    sees after the tenth (JENCO_LOCKOUT_FAILURES), with the wait and the way out."""
    for _ in range(12):
        page.fill("input[name=username]", "JPN7000001")
        page.fill("input[name=password]", "not-the-password")
        answer_captcha(page, app)
        with page.expect_navigation() as navigation:
            page.click("main form button[type=submit]")
        if navigation.value.status == 429:
            return
    raise RuntimeError("twelve wrong passwords did not pause signing in")


RESET_PATH = f"""
from accounts import links
from accounts.flows.reset import ResetKind
from accounts.models import Member
member = Member.objects.get(member_id={MEMBERS[MEMBER][0]!r})
print(links.reset_path(ResetKind.named({{what!r}}), member))
"""


def follow_emailed_link(what: str) -> Callable[[Page, App], None]:
    """Open the link the reset email holds: the new-password (or new-PIN) form."""

    def follow(page: Page, app: App) -> None:
        path = app.manage("shell", "--verbosity", "0", "--command", RESET_PATH.format(what=what))
        page.goto(app.url(path.strip()))

    return follow


def open_language_menu(page: Page, app: App) -> None:
    page.click("details.language > summary")


def open_account_menu(page: Page, app: App) -> None:
    page.click("details.menu:not(.language) > summary")


# The pages, in order. Add an entry to take one more: (name, path, who[, action]).
# A path that answers 404 is skipped with a note, so pages still to be built can be listed.
PAGES = [
    Shot("login", "/login/"),
    Shot("login-empty-submit", "/login/", ANONYMOUS, submit_empty),
    Shot("login-wrong-password", "/login/", ANONYMOUS, submit_wrong_password),
    Shot("login-language-menu", "/login/", ANONYMOUS, open_language_menu),
    Shot("password-forgot", "/password/forgot/"),
    Shot("password-forgot-sent", "/password/forgot/sent/"),
    Shot("password-reset-done", "/password/reset/done/"),
    Shot("password-reset-bad-link", "/password/reset/MQ/bad-token/"),
    Shot("pin-forgot", "/pin/forgot/"),
    Shot("pin-forgot-sent", "/pin/forgot/sent/"),
    Shot("password-reset-form", "/password/forgot/", ANONYMOUS, follow_emailed_link("password")),
    Shot("pin-reset-form", "/pin/forgot/", ANONYMOUS, follow_emailed_link("pin")),
    # Last of the signed-out pages: its ID stays paused for the other languages and sizes.
    Shot("login-paused", "/login/", ANONYMOUS, pause_sign_in, status=429),
    *(
        Shot(f"{who}-{name}", path, who)
        for who in (DEMO, MEMBER)
        for name, path in [
            ("dashboard", "/backoffice/"),
            ("profile", "/backoffice/profile/"),
            ("profile-pin", "/backoffice/profile/pin/"),
            ("profile-password", "/backoffice/profile/password/"),
            ("profile-sub-password", "/backoffice/profile/sub-password/"),
            ("profile-email", "/backoffice/profile/email/"),
        ]
    ),
    Shot("member-account-menu", "/backoffice/", MEMBER, open_account_menu),
    Shot("view-only-dashboard", "/backoffice/", VIEW_ONLY),
    Shot("view-only-profile", "/backoffice/profile/", VIEW_ONLY),
    Shot("view-only-billing", "/backoffice/billing/", VIEW_ONLY),
]


class App:
    """The app under a runserver of its own, on a throwaway database."""

    def __init__(self, workdir: Path):
        self.port = runserver.free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log_path = workdir / "runserver.log"
        self.env = os.environ | {
            "DEBUG": "1",
            "DATABASE_URL": f"sqlite:///{workdir / 'db.sqlite3'}",
            "SECRET_KEY": "screenshots-only-" + secrets.token_urlsafe(32),
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
            "EMAIL_BACKEND": "django.core.mail.backends.console.EmailBackend",
            "PYTHONDONTWRITEBYTECODE": "1",
        }
        self.server: subprocess.Popen | None = None

    def url(self, path: str) -> str:
        return self.base + path

    def manage(self, *args: str) -> str:
        done = runserver.manage(self.env, *args)
        if done.returncode != 0:
            raise RuntimeError(f"manage.py {args[0]} failed:\n{done.stdout}{done.stderr}")
        return done.stdout

    def start(self) -> None:
        self.manage("migrate", "--verbosity", "0")
        self.manage("create_demo_member")
        self.manage("shell", "--verbosity", "0", "--command", CREATE_MEMBER)
        self.server = runserver.start(self.port, self.env, self.log_path)

    def stop(self) -> None:
        runserver.stop(self.server)

    def server_errors(self) -> list[str]:
        """Lines of the server log that tell of a 500 or a traceback."""
        lines = self.log_path.read_text(errors="replace").splitlines()
        return [
            line
            for line in lines
            if "Traceback" in line or "Internal Server Error" in line or '" 500 ' in line
        ]

    def captcha_answer(self, key: str) -> str:
        """What the captcha picture says, read from the database by its hidden key."""
        if not re.fullmatch(r"[0-9a-f]{40}", key):
            raise RuntimeError(f"unexpected captcha key {key!r}")
        out = self.manage(
            "shell",
            "--verbosity",
            "0",
            "--command",
            "from captcha.models import CaptchaStore; "
            f"print(CaptchaStore.objects.get(hashkey={key!r}).response)",
        )
        return out.strip().splitlines()[-1]


def submit(page: Page) -> None:
    with page.expect_navigation():
        page.click("main form button[type=submit]")


def answer_captcha(page: Page, app: App) -> None:
    key = page.input_value("input[name=captcha_0]")
    page.fill("input[name=captcha_1]", app.captcha_answer(key))


def sign_in(page: Page, app: App, who: str) -> None:
    member_id, password = MEMBERS[who]
    page.goto(app.url("/login/"))
    page.fill("input[name=username]", member_id)
    page.fill("input[name=password]", password)
    if who == VIEW_ONLY:
        page.check("input[name=view_only]")
    answer_captcha(page, app)
    submit(page)
    if page.url.startswith(app.url("/login/")):
        raise RuntimeError(f"{member_id} could not sign in: is the member or the captcha wrong?")


def html_language(page: Page) -> str:
    return page.get_attribute("html", "lang") or ""


def choose_language(page: Page, language: str) -> None:
    """Switch the way a member does: open the language menu, press the language."""
    if html_language(page) == language:
        return
    page.click("details.language > summary")
    with page.expect_navigation():
        page.click(f"details.language button[name=language][value={language}]")


class Console:
    """Console errors and uncaught exceptions of a page, sorted by screenshot."""

    def __init__(self):
        self.pending: list[str] = []
        self.seen: list[str] = []
        self.skipped: set[str] = set()

    def watch(self, page: Page) -> None:
        page.on("console", self._console)
        page.on("pageerror", lambda error: self.pending.append(f"uncaught: {error}"))

    def _console(self, message) -> None:
        line = describe(message)
        if line:
            self.pending.append(line)

    def expect(self, text: str) -> None:
        self.pending = [line for line in self.pending if text not in line]

    def keep(self, label: str) -> None:
        self.seen += [f"{label}: {line}" for line in self.pending]
        self.pending.clear()

    def drop(self) -> None:
        self.pending.clear()


def take(
    page: Page, app: App, shot: Shot, language: str, width: int, out: Path, console: Console
) -> tuple[Path | None, list[str]]:
    """One screenshot; returns the file written (None when skipped) and problems seen."""
    label = f"{shot.name}-{language}-{width}"
    problems = []
    console.keep(f"before {label}")
    response = page.goto(app.url(shot.path))
    if response is None or response.status == 404:
        console.drop()
        if shot.path not in console.skipped:
            console.skipped.add(shot.path)
            print(f"  skipped {shot.name}: {shot.path} answers 404 (not built yet?)")
        return None, []
    if shot.action:
        shot.action(page, app)
    if shot.status:
        console.expect(f"the server responded with a status of {shot.status} ")
    status = page.evaluate("() => performance.getEntriesByType('navigation')[0]?.responseStatus")
    if (status or response.status) >= 500:
        problems.append(f"{label}: {page.url} answered {status or response.status}")
    if html_language(page) != language:
        problems.append(f"{label}: {page.url} is in {html_language(page)!r}, not {language!r}")
    path = out / f"{label}.png"
    page.screenshot(path=path, full_page=True, animations="disabled")
    console.keep(label)
    final = page.url.removeprefix(app.base)
    note = f"  (shows {final})" if final != shot.path else ""
    print(f"{path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}{note}")
    return path, problems


def run(shots: list[Shot], out: Path, clear: bool = True) -> int:
    out.mkdir(parents=True, exist_ok=True)
    if clear:  # a full run leaves no picture of a page that is gone from PAGES
        for old in out.glob("*.png"):
            old.unlink()
    console = Console()
    with tempfile.TemporaryDirectory(prefix="jenco-screenshots-") as tmp:
        app = App(Path(tmp))
        try:
            app.start()
            written, problems = take_all(app, shots, out, console)
        finally:
            app.stop()
        problems += console.seen
        problems += [f"server: {line}" for line in app.server_errors()]
    return report(out, written, problems)


def take_all(app: App, shots: list[Shot], out: Path, console: Console):
    """Every shot, in each language and size, each visitor in a browser context of their own."""
    written: list[Path] = []
    problems: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(**launch_args())
        for who in (ANONYMOUS, DEMO, MEMBER, VIEW_ONLY):
            mine = [shot for shot in shots if shot.who == who]
            if not mine:
                continue
            for language, (width, height) in itertools.product(LANGUAGES, VIEWPORTS):
                context = browser.new_context(
                    viewport={"width": width, "height": height},
                    is_mobile=width < 600,
                    has_touch=width < 600,
                    locale="ja-JP",  # a Japanese phone or PC; English by the switch
                    timezone_id="Asia/Tokyo",
                )
                page = open_as(context.new_page(), app, who, language, console)
                console.keep(f"{who} sign-in/{language}-{width}")
                for shot in mine:
                    path, seen = take(page, app, shot, language, width, out, console)
                    problems += seen
                    written += [path] if path else []
                context.close()
        browser.close()
    return written, problems


def open_as(page: Page, app: App, who: str, language: str, console: Console) -> Page:
    """The sign-in page, signed in as `who` (unless anonymous), in `language`."""
    console.watch(page)
    page.goto(app.url("/login/"))
    if who != ANONYMOUS:
        sign_in(page, app, who)
    choose_language(page, language)
    return page


def report(out: Path, written: list[Path], problems: list[str]) -> int:
    """Print what was written and what went wrong into problems.txt; 1 if anything new did."""
    known = [line for line in problems if is_known(line)]
    problems = [line for line in problems if line not in known]
    report_file = out / "problems.txt"
    report_file.write_text(
        "".join(f"{line}\n" for line in problems + [f"known: {k}" for k in known])
    )
    print(f"\n{len(written)} screenshots in {out}")
    if known:
        print(
            f"{len(known)} known problems (tools/chromium.py KNOWN_CONSOLE_ERRORS), not failing the run:"
        )
        for line in known:
            print(f"  {line}")
    if problems:
        print(f"\n{len(problems)} problems (also in {report_file}):", file=sys.stderr)
        for line in problems:
            print(f"  {line}", file=sys.stderr)
        return 1
    print("No console errors, CSP violations or server errors.")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--only", action="append", default=[], help="take only shots whose name starts with this"
    )
    parser.add_argument("--out", type=Path, default=ROOT / "screenshots", help="output folder")
    args = parser.parse_args(argv)
    shots = [s for s in PAGES if not args.only or any(s.name.startswith(o) for o in args.only)]
    if not shots:
        parser.error(f"no page name starts with {args.only}")
    return run(shots, args.out.resolve(), clear=not args.only)


if __name__ == "__main__":
    sys.exit(main())
