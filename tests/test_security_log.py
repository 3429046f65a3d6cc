import datetime
import time

import pytest
from django.core.management import call_command
from django.utils import timezone

from accounts.models import Member, SecurityEvent
from tests.helpers import PASSWORD, solved_captcha

pytestmark = pytest.mark.django_db


def test_old_events_are_pruned_and_recent_ones_kept(member):
    old = SecurityEvent.objects.create(
        kind="sign_in", member=member, created=timezone.now() - datetime.timedelta(days=500)
    )
    recent = SecurityEvent.objects.create(kind="sign_in", member=member)
    call_command("prune_security_events", "--days", "400")
    assert not SecurityEvent.objects.filter(pk=old.pk).exists()
    assert SecurityEvent.objects.filter(pk=recent.pk).exists()


def test_each_event_says_who_from_where(client, member):
    client.post(
        "/login/",
        {"username": "JPN1000001", "password": PASSWORD, **solved_captcha()},
        REMOTE_ADDR="203.0.113.7",
        HTTP_USER_AGENT="Mozilla/5.0 (iPhone)",
    )
    event = SecurityEvent.objects.get(kind="sign_in")
    assert (event.member, event.ip_address, event.user_agent) == (
        member,
        "203.0.113.7",
        "Mozilla/5.0 (iPhone)",
    )


@pytest.mark.parametrize(
    ("proxies", "forwarded", "recorded"),
    [
        (0, "198.51.100.9", "10.0.0.2"),  # no proxy: a header a client wrote counts for nothing
        (1, "198.51.100.9", "198.51.100.9"),
        (1, "1.2.3.4, 198.51.100.9", "198.51.100.9"),  # the client's own entry is ignored
        (2, "1.2.3.4, 198.51.100.9, 10.0.0.5", "198.51.100.9"),
        (1, "not-an-address", "10.0.0.2"),
        (2, "198.51.100.9", "10.0.0.2"),  # fewer entries than proxies: the peer
        (1, "198.51.100.9:5678", "198.51.100.9"),  # a port some proxies add
        (1, "[2001:db8::7]:443", "2001:db8::7"),
        (1, "2001:db8::7", "2001:db8::7"),
    ],
)
def test_behind_proxies_the_client_address_is_the_one_they_saw(
    client, member, settings, proxies, forwarded, recorded
):
    settings.JENCO_TRUSTED_PROXIES = proxies
    client.post(
        "/login/",
        {"username": "JPN1000001", "password": PASSWORD, **solved_captcha()},
        REMOTE_ADDR="10.0.0.2",
        HTTP_X_FORWARDED_FOR=forwarded,
    )
    assert SecurityEvent.objects.get(kind="sign_in").ip_address == recorded


def test_a_sign_in_ends_after_its_absolute_lifetime(client, member, settings):
    client.post("/login/", {"username": "JPN1000001", "password": PASSWORD, **solved_captcha()})
    assert client.get("/backoffice/").status_code == 200
    session = client.session
    session["signed_in_at"] = int(time.time()) - settings.JENCO_SESSION_MAX_SECONDS - 1
    session.save()
    assert client.get("/backoffice/")["Location"].startswith("/login/")


def _sign_out(client):
    client.post("/logout/")


def _switch_language(client):
    client.post("/i18n/setlang/", {"language": "en", "next": "/backoffice/"})


def _ask_email_change(client):
    client.post("/backoffice/profile/email/", {"email": "new@example.com", "pin": "482916"})


@pytest.mark.parametrize(
    ("act", "kind"),
    [
        (_sign_out, "sign_out"),
        (_switch_language, "language_changed"),
        (_ask_email_change, "email_change_requested"),
    ],
)
def test_member_actions_are_logged(member_client, member, act, kind):
    act(member_client)
    assert SecurityEvent.objects.filter(member=member, kind=kind).count() == 1


def test_a_pin_reset_request_is_logged_without_saying_so_to_the_asker(client, member):
    page = client.post(
        "/pin/forgot/",
        {"username": "JPN1000001", "email": "taro@example.com", **solved_captcha()},
    )
    assert page["Location"] == "/pin/forgot/sent/"
    assert SecurityEvent.objects.filter(member=member, kind="pin_reset_requested").count() == 1


def test_no_staff_member_silently_edits_the_email_reset_links_go_to(client, staff, member):
    client.force_login(staff)  # a superuser, who may change members
    client.post(
        f"/admin/accounts/member/{member.pk}/change/",
        {"name": "山田 太郎", "email": "attacker@example.com", "preferred_language": "ja"},
    )
    assert Member.objects.get(pk=member.pk).email == "taro@example.com"


def test_a_superusers_change_to_a_staff_group_is_logged(client, staff):
    """What a team may do changed in admin: in the security log, with who and what (helper-113:
    it was only in Django's own admin history)."""
    from django.contrib.auth.models import Group, Permission
    from django.utils import translation

    from accounts.flows import support

    support_group = Group.objects.get(name="Support")
    kept = sorted(support_group.permissions.values_list("pk", flat=True))
    change_member = Permission.objects.get(codename="change_member")
    client.force_login(staff)
    page = f"/admin/auth/group/{support_group.pk}/change/"

    assert client.post(page, {"name": "Support", "permissions": kept}).status_code == 302
    assert not SecurityEvent.objects.filter(kind="staff_group_changed").exists()  # nothing
    with_change = [*kept, change_member.pk]
    assert client.post(page, {"name": "Support", "permissions": with_change}).status_code == 302
    added = SecurityEvent.objects.get(kind="staff_group_changed")
    assert added.actor == staff and added.member is None
    assert added.details["permissions_added"] == ["accounts.change_member"]
    with translation.override("en"):
        assert "Permissions added: accounts.change_member" in support.details_in_words(added)
        assert "Group: Support" in support.details_in_words(added)

    client.post(page, {"name": "Support", "permissions": kept})
    removed = SecurityEvent.objects.filter(kind="staff_group_changed").latest("created")
    assert removed.details["permissions_removed"] == ["accounts.change_member"]

    client.post(page, {"name": "Support desk", "permissions": kept})
    renamed = SecurityEvent.objects.filter(kind="staff_group_changed").latest("created")
    assert (renamed.details["renamed_from"], renamed.details["group"]) == (
        "Support",
        "Support desk",
    )
    assert "permissions_added" not in renamed.details
    client.post(page, {"name": "Support", "permissions": kept})

    new = client.post("/admin/auth/group/add/", {"name": "Auditors", "permissions": []})
    assert new.status_code == 302
    auditors = Group.objects.get(name="Auditors")
    client.post(f"/admin/auth/group/{auditors.pk}/delete/", {"post": "yes"})
    logged = SecurityEvent.objects.filter(kind="staff_group_changed").order_by("created")
    assert [
        e.details.get("deleted", False) for e in logged if e.details["group"] == "Auditors"
    ] == [
        False,
        True,
    ]


def test_staff_groups_deleted_from_the_list_are_logged_and_agents_see_none_of_it(
    client, staff, support_agent
):
    from django.contrib.auth.models import Group

    first, second = Group.objects.create(name="Auditors"), Group.objects.create(name="Trainees")
    client.force_login(staff)
    client.post(
        "/admin/auth/group/",
        {"action": "delete_selected", "_selected_action": [first.pk, second.pk], "post": "yes"},
    )

    assert not Group.objects.filter(name__in=["Auditors", "Trainees"]).exists()
    logged = SecurityEvent.objects.filter(kind="staff_group_changed")
    assert sorted(e.details["group"] for e in logged) == ["Auditors", "Trainees"]
    assert all(e.details["deleted"] and e.actor == staff for e in logged)
    # What superusers did to the staff's groups is for superusers: not in an agent's log.
    listed = "/admin/accounts/securityevent/?kind__exact=staff_group_changed"
    assert client.get(listed).context_data["cl"].result_count == 2
    client.force_login(support_agent)
    assert client.get(listed).context_data["cl"].result_count == 0


def test_a_late_page_of_the_log_skips_its_rows_by_key_and_shows_the_same_rows(client, staff):
    # Skipping the rows before a late page with the member and staff member joined took twice
    # as long at 200,000 entries (helper-115): the skip reads keys only.
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    member = Member.objects.create_user("JPN1000005", email="goro@example.com")
    SecurityEvent.objects.bulk_create(
        SecurityEvent(kind="sign_in", member=member, ip_address=f"10.1.0.{n % 250}")
        for n in range(250)
    )
    client.force_login(staff)

    with CaptureQueriesContext(connection) as queries:
        page = client.get("/admin/accounts/securityevent/?p=3")
    shown = [row.pk for row in page.context_data["cl"].result_list]

    expected = list(SecurityEvent.objects.order_by("-created", "-pk").values_list("pk", flat=True))
    assert shown == expected[200:] and len(shown) == 50
    skipping = [q["sql"] for q in queries if "OFFSET 200" in q["sql"]]
    assert skipping and all("JOIN" not in sql for sql in skipping), skipping


def test_the_activity_says_which_language_the_account_was_changed_to(member_client, member):
    # Two lines of "Language changed" after 日本語 then ENGLISH told the member nothing.
    member_client.post("/i18n/setlang/", {"language": "en", "next": "/backoffice/"})
    member_client.post("/i18n/setlang/", {"language": "ja", "next": "/backoffice/"})
    page = member_client.get("/backoffice/security/activity/").content.decode()
    assert "表示言語を英語に変更" in page and "表示言語を日本語に変更" in page
    member_client.post("/i18n/setlang/", {"language": "en", "next": "/backoffice/"})
    page = member_client.get("/backoffice/security/activity/").content.decode()
    assert page.count("Language changed to English") == 2
    assert page.count("Language changed to Japanese") == 1
