"""A Supervisor on the member's admin page, at 375 and 1280 px (issue 17): the support view
(can the member sign in, lift the pauses, reset links, two-step, the log) fits the screen, and
lifting a pause works from the page itself, after its question."""

import re

import pytest
from axes.models import AccessAttempt
from django.conf import settings
from django.contrib.auth.models import Group, Permission
from django.test import Client
from playwright.sync_api import expect

from accounts.models import Member
from tests.e2e.test_view_only_journey import no_horizontal_overflow
from tests.helpers import PASSWORD

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.mark.parametrize("width", [375, 1280])
def test_the_support_view_fits_and_lifts_a_pause(browser, live_server, member, width):
    boss = Member.objects.create_user(
        "JPN9000003", "boss@jenco.example", PASSWORD, name="監督 花子", is_staff=True
    )
    # The data migration's group, made again: a browser test's database is emptied after each.
    supervisor, _ = Group.objects.get_or_create(name="Supervisor")
    supervisor.permissions.add(
        *Permission.objects.filter(
            codename__in=["view_member", "view_securityevent", "delete_accessattempt"]
        )
    )
    boss.groups.add(supervisor)
    AccessAttempt.objects.create(
        username=member.member_id,
        ip_address="203.0.113.7",
        user_agent="Mozilla/5.0 (iPhone)",
        path_info="/login/",
        failures_since_start=settings.AXES_FAILURE_LIMIT,
    )
    client = Client()
    client.force_login(boss)
    context = browser.new_context(
        base_url=live_server.url, viewport={"width": width, "height": 900}, locale="ja-JP"
    )
    context.add_cookies(
        [
            {
                "name": settings.SESSION_COOKIE_NAME,
                "value": client.cookies[settings.SESSION_COOKIE_NAME].value,
                "url": live_server.url,
            },
            {"name": settings.LANGUAGE_COOKIE_NAME, "value": "ja", "url": live_server.url},
        ]
    )
    page = context.new_page()
    try:
        page.goto(f"/admin/accounts/member/{member.pk}/change/")
        expect(page.get_by_text("いいえ：一時停止中です。")).to_be_visible()
        assert no_horizontal_overflow(page)
        # Asked first, on a page of its own (MemberAdmin.clear_lockout_view).
        page.get_by_role("link", name="一時停止を解除する").click()
        expect(
            page.get_by_text(re.compile(r"のログインの一時停止.*を解除しますか？"))
        ).to_be_visible()
        assert no_horizontal_overflow(page)
        page.get_by_role("button", name="はい、解除します").click()
        expect(page.get_by_text("のログインの一時停止を解除しました。")).to_be_visible()
        expect(page.get_by_text("はい：一時停止はありません。")).to_be_visible()
        assert no_horizontal_overflow(page)
        # The member list and the security log: every column on the screen or scrolled
        # within the list, never the page cut off.
        for url in ["/admin/accounts/member/", "/admin/accounts/securityevent/"]:
            page.goto(url)
            assert no_horizontal_overflow(page), url
            last = page.locator("#result_list thead th").last
            results = page.locator(".results")
            assert last.is_visible()
            box, frame = last.bounding_box(), results.bounding_box()
            fits = box["x"] + box["width"] <= frame["x"] + frame["width"] + 1
            scrolls = page.evaluate(
                "document.querySelector('.results').scrollWidth >"
                " document.querySelector('.results').clientWidth"
            )
            assert fits or scrolls, url
    finally:
        context.close()
