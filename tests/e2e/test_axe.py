"""Every member page passes axe-core with no serious or critical violation, in both languages,
on a phone (375 px) and a desktop (1280 px).

axe-core comes inside the PyPI package axe-playwright-python (nothing is downloaded at run
time) and runs in Debian's Chromium on each entry of tests/member_pages.py, each form also
after it was sent empty, so its error messages are checked too.
"""

import pytest
from axe_playwright_python.sync_playwright import Axe
from django.conf import settings
from django.test import Client

from tests.member_pages import PAGES, signed_in

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

WIDTHS = {"phone": {"width": 375, "height": 812}, "desktop": {"width": 1280, "height": 900}}
BLOCKING = ("serious", "critical")


def findings(results: dict, where: str) -> list[str]:
    return [
        f"{where}: {violation['impact']} {violation['id']} ({violation['help']}) at "
        + ", ".join(
            f"{' '.join(node['target'])} {node['html'][:100]}" for node in violation["nodes"][:3]
        )
        for violation in results["violations"]
        if violation["impact"] in BLOCKING
    ]


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("language", ["ja", "en"])
def test_no_member_page_has_a_serious_or_critical_axe_violation(
    browser, live_server, language, width
):
    axe = Axe()
    context = browser.new_context(
        base_url=live_server.url, viewport=WIDTHS[width], locale=f"{language}-JP"
    )
    context.set_default_timeout(10_000)
    page = context.new_page()
    found, checked = [], 0
    try:
        for entry in PAGES:
            client = Client()
            member = signed_in(client, entry.who)
            context.clear_cookies()
            cookies = {settings.LANGUAGE_COOKIE_NAME: language}
            if settings.SESSION_COOKIE_NAME in client.cookies:
                cookies[settings.SESSION_COOKIE_NAME] = client.cookies[
                    settings.SESSION_COOKIE_NAME
                ].value
            context.add_cookies(
                [{"name": k, "value": v, "url": live_server.url} for k, v in cookies.items()]
            )
            if entry.fetch is not None:  # no link leads there: the test client's HTML, shown
                client.cookies[settings.LANGUAGE_COOKIE_NAME] = language  # on our origin
                html = entry.get(client, member).content.decode()
                page.goto("/healthz")
                page.set_content(html)
            else:
                response = page.goto(entry.url(member))
                assert response.status == entry.status, f"{entry}: {response.status}"
                if entry.submit_empty:
                    with page.expect_navigation():  # the form's answer, not the page before it
                        page.locator("main form button[type=submit]").first.click()
            if entry.status not in (400, 500):  # rendered without a request: both languages
                assert page.locator("html").get_attribute("lang") == language, str(entry)
            found += findings(axe.run(page).response, f"{entry} [{language}, {width}]")
            checked += 1
    finally:
        context.close()
    assert checked == len(PAGES)
    assert not found, f"{len(found)} serious or critical axe violations:\n" + "\n".join(found)


@pytest.mark.parametrize("width", WIDTHS)
def test_nginx_s_busy_page_has_no_serious_or_critical_axe_violation(browser, width):
    # static/errors/busy.html: what members see when no app server answers in time.
    context = browser.new_context(viewport=WIDTHS[width])
    page = context.new_page()
    try:
        page.set_content((settings.BASE_DIR / "static" / "errors" / "busy.html").read_text())
        assert page.locator("h1").inner_text() == "しばらくしてから、もう一度お試しください"
        found = findings(Axe().run(page).response, f"nginx's busy page [{width}]")
    finally:
        context.close()
    assert not found, "\n".join(found)
