import datetime
import re

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts import times
from accounts.admin import migration_summary
from accounts.credentials import Step, migration_step
from accounts.ja_accounts import ja_member
from accounts.models import Member, SecurityEvent
from tests.helpers import PASSWORD, PIN, a_minute_on, emailed_path

pytestmark = pytest.mark.django_db


@pytest.fixture
def support_client(client, support_agent):
    client.force_login(support_agent)
    return client


@pytest.fixture
def many(member, english_member, migrated_member):
    return [member, english_member, migrated_member]


def listed(page: str) -> set[str]:
    return {m for m in ("JPN1000001", "JPN1000002", "JPN2000001") if f">{m}<" in page}


@pytest.mark.parametrize("query", ["jpn 1000001", "ＪＰＮ１０００００１", "JPN-1000001"])
def test_support_finds_a_member_by_the_id_as_typed(support_client, many, query):
    page = support_client.get("/admin/accounts/member/", {"q": query}).content.decode()
    assert listed(page) == {"JPN1000001"}


def test_support_finds_a_member_by_email_and_by_name(support_client, many):
    page = support_client.get("/admin/accounts/member/", {"q": "hanako@"}).content.decode()
    assert listed(page) == {"JPN2000001"}
    page = support_client.get("/admin/accounts/member/", {"q": "Alice"}).content.decode()
    assert listed(page) == {"JPN1000002"}


@pytest.mark.parametrize("query", ["山田太郎", "佐藤花子", "AliceSmith"])
def test_support_finds_a_name_typed_without_its_space(support_client, many, query):
    # A caller says 「ヤマダタロウです」 and the agent types 山田太郎: the name is stored as
    # 山田 太郎 (the JA export's space, or 　), and the search found no one (helper-152).
    Member.objects.filter(member_id="JPN2000001").update(name="佐藤\u3000花子")
    page = support_client.get("/admin/accounts/member/", {"q": query}).content.decode()
    expected = {"山田太郎": "JPN1000001", "佐藤花子": "JPN2000001", "AliceSmith": "JPN1000002"}
    assert listed(page) == {expected[query]}


def test_a_name_typed_without_its_space_is_found_in_the_same_pass_over_the_members(
    support_client, many
):
    # Every search without a space (a partial ID, an address) looks at the names without
    # their spaces too: one more condition on the rows the search reads, not a second pass
    # over every member in a subquery (helper-154).
    def member_tables_read(query: str) -> int:
        with CaptureQueriesContext(connection) as queries:
            page = support_client.get("/admin/accounts/member/", {"q": query}).content.decode()
        assert listed(page) == {"JPN1000001"}
        counted = 'SELECT COUNT(*) AS "__count" FROM "accounts_member"'  # the list's total
        listing = next(q["sql"] for q in queries if q["sql"].startswith(counted))
        return listing.count('FROM "accounts_member"')

    assert member_tables_read("山田太郎") == member_tables_read("山田 太郎")


def test_the_list_shows_what_support_needs_and_no_secrets(support_client, many):
    page = support_client.get("/admin/accounts/member/").content.decode()
    for text in ["taro@example.com", "山田 太郎", "確認コード未入力"]:
        assert text in page
    assert "AB98765432" not in page
    assert "md5$" not in page and "argon2" not in page


def test_the_search_box_says_what_it_finds(support_client):
    page = support_client.get("/admin/accounts/member/").content.decode()
    assert (
        "会員ID、氏名（姓と名の間のスペースはあってもなくても可）、メールアドレスで検索できます。"
        in page
    )


def test_the_migration_summary_counts_the_ja_members(support_client, many):
    page = support_client.get("/admin/accounts/member/").content.decode()
    assert "JAから移行した会員 1 人" in page


def test_the_migration_filter(support_client, many):
    page = support_client.get("/admin/accounts/member/", {"migration": "mailbox"}).content.decode()
    assert listed(page) == {"JPN2000001"}
    Member.objects.filter(member_id="JPN2000001").update(mailbox_proved_at=timezone.now())
    page = support_client.get("/admin/accounts/member/", {"migration": "pin"}).content.decode()
    assert listed(page) == {"JPN2000001"}
    page = support_client.get("/admin/accounts/member/", {"migration": "mailbox"}).content.decode()
    assert listed(page) == set()


def test_the_migration_summary_counts_each_member_at_one_step(support_client, db):
    for n, (proved, pin, password) in enumerate(
        [(False, True, True), (True, True, True), (True, False, True), (True, False, False)]
    ):
        member = ja_member(f"JPN300000{n}")
        member.mailbox_proved_at = timezone.now() if proved else None
        member.on_default_pin, member.on_default_password = pin, password
        member.save()
    page = support_client.get("/admin/accounts/member/").content.decode()
    assert (
        "JAから移行した会員 4 人 · 確認コード未入力 1 人 · PINコード変更待ち 1 人 · "
        "パスワード変更待ち 1 人 · 完了 1 人"
    ) in page


def test_a_member_at_the_pin_step_is_counted_once_however_they_got_there(support_client, db):
    """Every mix of flags: the list's column, its filter and the summary agree on one step
    per member. A member on the default PIN who already proved the mailbox, or who set a
    new password by email first, is at the PIN step and nowhere else."""
    combos = [(p, n, w) for p in (False, True) for n in (False, True) for w in (False, True)]
    for i, (proved, pin, password) in enumerate(combos):
        member = ja_member(f"JPN40000{i:02d}")
        member.mailbox_proved_at = timezone.now() if proved else None
        member.on_default_pin, member.on_default_password = pin, password
        member.save()
    summary = migration_summary()
    assert summary["imported"] == len(combos)
    assert sum(summary[step.value] for step in Step) == len(combos)
    # (proved, default PIN, default password), (proved, default PIN, own password) and
    # (not proved, default PIN, own password)
    assert summary[Step.PIN] == 3
    for member in Member.objects.filter(origin=Member.Origin.JA):
        step = migration_step(member)
        assert set(Member.objects.at_migration_step(step)) >= {member}
        others = [s for s in Step if s is not step]
        assert not any(Member.objects.at_migration_step(s).filter(pk=member.pk) for s in others)
        listed_at = support_client.get("/admin/accounts/member/", {"migration": step.value})
        assert f">{member.member_id}<" in listed_at.content.decode()


def test_a_member_record_hides_hashes_and_masks_the_document(support_client, member):
    page = support_client.get(f"/admin/accounts/member/{member.pk}/change/").content.decode()
    assert "taro@example.com" in page
    assert "••••••5432" in page
    assert "AB98765432" not in page
    assert member.password not in page and member.pin not in page
    assert PIN not in page and PASSWORD not in page


def test_opening_a_member_record_is_logged(support_client, support_agent, member):
    support_client.get(f"/admin/accounts/member/{member.pk}/change/")
    event = SecurityEvent.objects.get(kind="member_viewed")
    assert event.member == member and event.actor == support_agent


def test_support_cannot_change_a_member(support_client, member):
    page = support_client.get(f"/admin/accounts/member/{member.pk}/change/").content.decode()
    assert 'name="_save"' not in page
    response = support_client.post(
        f"/admin/accounts/member/{member.pk}/change/",
        {"name": "changed", "email": "evil@example.com"},
    )
    assert response.status_code == 403
    assert Member.objects.get(pk=member.pk).email == "taro@example.com"


def test_support_sees_nothing_else(support_client):
    assert support_client.get("/admin/auth/group/").status_code == 403
    assert support_client.get("/admin/accounts/securityevent/").status_code == 200


def test_only_who_sees_staff_accounts_can_filter_by_them(client, support_client, staff, many):
    # Support never sees a staff account: a filter for them always answered none.
    page = support_client.get("/admin/accounts/member/").content.decode()
    assert "is_staff__exact" not in page
    assert support_client.get("/admin/accounts/member/?is_staff__exact=1").status_code == 400
    client.force_login(staff)
    page = client.get("/admin/accounts/member/").content.decode()
    assert "is_staff__exact" in page


def test_the_security_logs_date_bar_is_labelled_in_japanese(support_client, member):
    SecurityEvent.objects.create(kind="sign_in", member=member)
    page = support_client.get("/admin/accounts/securityevent/").content.decode()
    assert "日時で絞り込む" in page
    assert "Filter by" not in page


def test_nobody_edits_the_security_log(client, staff, member):
    SecurityEvent.objects.create(kind="sign_in", member=member)
    client.force_login(staff)
    event = SecurityEvent.objects.get()
    page = client.get(f"/admin/accounts/securityevent/{event.pk}/change/").content.decode()
    assert 'name="_save"' not in page
    assert client.post(f"/admin/accounts/securityevent/{event.pk}/delete/").status_code == 403


def test_members_are_not_let_into_admin(client, member):
    client.force_login(member)
    assert client.get("/admin/")["Location"].startswith("/admin/login/")


@pytest.fixture
def send_links(mailoutbox):
    """Run an admin action; the mail it queues lands in `mailoutbox`."""

    def send(client, action, *members, confirmed=True):
        answer = {"post": "yes"} if confirmed else {}
        return client.post(
            "/admin/accounts/member/",
            {"action": action, "_selected_action": [m.pk for m in members], **answer},
            follow=True,
        )

    return send


def test_support_emails_a_reset_link_in_the_members_language(
    client, support_agent, member, english_member, mailoutbox, send_links
):
    support_agent.preferred_language = "en"
    support_agent.save()
    client.force_login(support_agent)
    client.cookies["django_language"] = "en"
    page = send_links(client, "send_password_reset_link", member, english_member)
    # Which members, and which link: the action's two options sit next to each other, and a
    # row ticked by mistake is a member mailed out of the blue (helper-152).
    assert (
        "A password reset link was emailed to 2 members: JPN1000001, JPN1000002."
        in page.content.decode()
    )
    by_address = {mail.to[0]: mail for mail in mailoutbox}
    assert "パスワード" in by_address["taro@example.com"].subject  # Japanese member, Japanese mail
    assert "password" in by_address["alice@example.com"].subject.lower()
    # Support sent it: the mail says so, not that the member asked.
    taro, alice = by_address["taro@example.com"].body, by_address["alice@example.com"].body
    assert "JENCOサポートより" in taro and "ご依頼を受け付けました" not in taro
    assert "JENCOサポートにお問い合わせいただいていない場合は" in taro
    assert "JENCO support has sent you this link to set a new password" in alice
    assert "received a request" not in alice
    link = emailed_path(by_address["taro@example.com"], "/password/reset/")
    assert Client().get(link)["Location"].endswith("/set-password/")
    event = SecurityEvent.objects.get(member=member, kind="password_reset_requested")
    assert event.actor == support_agent


@pytest.mark.parametrize(
    "language, question, skipped, button",
    [
        (
            "ja",
            "以下の各会員に、登録メールアドレス宛てに会員の言語でパスワード再設定用のURLを"
            "メールで送信しますか？",
            "JPN1000001 山田 太郎 — <strong>送信しません：メールアドレスが登録されていません</strong>",
            "はい、送信します",
        ),
        (
            "en",
            "Email a password reset link to each member below, at their registered address and "
            "in their language?",
            "JPN1000001 山田 太郎 — <strong>skipped: no registered email address</strong>",
            "Yes, send",
        ),
    ],
)
def test_the_reset_link_action_asks_first_naming_the_members_and_who_is_skipped(
    client,
    support_agent,
    member,
    english_member,
    mailoutbox,
    send_links,
    language,
    question,
    skipped,
    button,
):
    # The action mailed at once: a row ticked by mistake was a member mailed out of the blue.
    member.email = ""
    member.save()
    client.force_login(support_agent)
    client.cookies["django_language"] = language
    asked = send_links(client, "send_password_reset_link", member, english_member, confirmed=False)
    page = asked.content.decode()
    assert question in page and skipped in page
    assert {"ja": "送信するのは1人です。", "en": "1 member gets the link;"}[language] in page
    assert "JPN1000002 Alice Smith" in page and "alice@example.com" in page
    assert f'value="{button}"' in page and 'name="post" value="yes"' in page
    assert 'value="send_password_reset_link"' in page
    assert mailoutbox == []
    assert not SecurityEvent.objects.filter(kind="password_reset_requested").exists()
    send_links(client, "send_password_reset_link", member, english_member)
    assert [mail.to for mail in mailoutbox] == [["alice@example.com"]]


def test_the_pin_link_action_asks_first_too(support_client, member, mailoutbox, send_links):
    page = send_links(support_client, "send_pin_reset_link", member, confirmed=False)
    assert "以下の各会員に、登録メールアドレス宛てに会員の言語でPINコード再設定用" in (
        page.content.decode()
    )
    assert mailoutbox == []


def test_support_emails_a_pin_reset_link(support_client, member, mailoutbox, send_links):
    page = send_links(support_client, "send_pin_reset_link", member)
    assert emailed_path(mailoutbox[0], "/pin/reset/")
    told = page.content.decode()
    assert "1人の会員にPINコード再設定用のURLをメールで送信しました：JPN1000001。" in told
    assert (
        "JENCOサポートより、お客様のアカウント JPN1000001 の新しいPINコード" in mailoutbox[0].body
    )


def test_support_cannot_flood_a_member_with_reset_links(
    support_client, member, mailoutbox, settings, send_links
):
    settings.JENCO_RESET_EMAILS_PER_HOUR = 2
    for _ in range(3):
        a_minute_on(member)
        page = send_links(support_client, "send_password_reset_link", member)
    assert len(mailoutbox) == 2
    # As the member's own page says it: who, why, and when it can be sent again.
    first = SecurityEvent.objects.filter(kind="password_reset_requested").earliest("created")
    again = times.try_again_at(first.created + datetime.timedelta(hours=1))
    assert (
        f"送信していません：この1時間に JPN1000001 へ上限の2通を送っています。{again} 以降に"
        in page.content.decode()
    )


def test_the_actions_question_answered_twice_mails_one_link(
    support_client, member, mailoutbox, send_links
):
    send_links(support_client, "send_password_reset_link", member)
    page = send_links(support_client, "send_password_reset_link", member).content.decode()
    assert len(mailoutbox) == 1
    assert "再送していません：1分以内に JPN1000001 へリンクを送信済みで、配信中です。" in page
    # Asked again, the question says so beforehand; a PIN link is another link.
    question = send_links(support_client, "send_password_reset_link", member, confirmed=False)
    assert "送信しません：1分以内にリンクを送信済みです" in question.content.decode()
    question = send_links(support_client, "send_pin_reset_link", member, confirmed=False)
    assert "送信しません" not in question.content.decode()
    a_minute_on(member)
    send_links(support_client, "send_password_reset_link", member)
    assert len(mailoutbox) == 2


def test_a_member_without_an_email_gets_nothing(
    support_client, member, english_member, mailoutbox, send_links
):
    member.email = ""
    member.save()
    page = send_links(support_client, "send_password_reset_link", member, english_member)
    assert [mail.to for mail in mailoutbox] == [["alice@example.com"]]
    told = page.content.decode()
    assert "送信していません：JPN1000001 にはメールアドレスが登録されていません。" in told
    assert "1人の会員にパスワード再設定用のURLをメールで送信しました：JPN1000002。" in told
    assert not SecurityEvent.objects.filter(member=member, kind="password_reset_requested").exists()


def test_staff_without_the_permission_cannot_send_links(client, member, mailoutbox, send_links):
    viewer = Member.objects.create_user(
        "JPN9000003", "viewer@jenco.example", PASSWORD, is_staff=True
    )
    from django.contrib.auth.models import Permission

    viewer.user_permissions.add(Permission.objects.get(codename="view_member"))
    client.force_login(viewer)
    page = client.get("/admin/accounts/member/").content.decode()
    assert "send_password_reset_link" not in page
    send_links(client, "send_password_reset_link", member)
    assert mailoutbox == []


def test_at_most_twenty_members_at_once(support_client, mailoutbox, send_links):
    many = [
        Member.objects.create_user(f"JPN80000{n:02}", f"m{n}@example.com", PASSWORD)
        for n in range(21)
    ]
    page = send_links(support_client, "send_password_reset_link", *many).content.decode()
    assert "一度に送信できるのは20人まで" in page
    assert mailoutbox == []


def test_the_mail_queue_is_not_in_admin(client, staff):
    client.force_login(staff)
    assert client.get("/admin/django_tasks_db/dbtaskresult/").status_code == 404


@pytest.mark.parametrize(
    ("language", "pin", "password"),
    [
        (
            "ja",
            "✓の場合、JAから移行したときのデフォルトのPINコードのままです。",
            "✓の場合、JAから移行したときのデフォルトのパスワードのままです。",
        ),
        (
            "en",
            "✓ means it still uses the published JA default PIN.",
            "✓ means it still signs in with the published JA default password.",
        ),
    ],
)
def test_the_default_credential_flags_read_as_what_a_tick_means(
    support_client, member, settings, language, pin, password
):
    # 「…デフォルトのPINコードのままです。」 above a red ✗ read as if the PIN were the default;
    # in English "Ticked: …" spoke of a box the read-only page does not show (helper-131).
    support_client.cookies[settings.LANGUAGE_COOKIE_NAME] = language
    page = support_client.get(f"/admin/accounts/member/{member.pk}/change/").content.decode()
    assert pin in page and password in page


def test_staff_change_their_password_where_it_is_confirmed_logged_and_announced(
    support_client, support_agent, mailoutbox
):
    # The operator's trial: admin's own "Change password" (in its header) changed a staff
    # password with no security-log entry and no email.
    assert 'href="/admin/password_change/"' in support_client.get("/admin/").content.decode()
    new = "Harbour-Lights-7302"
    admins_form = {"old_password": PASSWORD, "new_password1": new, "new_password2": new}
    sent = support_client.post("/admin/password_change/", admins_form)
    assert (sent.status_code, sent["Location"]) == (302, "/backoffice/profile/password/")
    support_agent.refresh_from_db()
    assert support_agent.check_password(PASSWORD)  # admin's form changed nothing
    page = support_client.get("/admin/password_change/", follow=True).content.decode()
    assert 'name="current_password"' in page  # no PIN: confirmed with the password
    version = re.search(r'name="version" value="([^"]*)"', page)[1]
    ours = {"current_password": PASSWORD, "new_password1": new, "new_password2": new}
    support_client.post("/backoffice/profile/password/", {**ours, "version": version})
    support_agent.refresh_from_db()
    assert support_agent.check_password(new)
    assert SecurityEvent.objects.filter(member=support_agent, kind="password_changed").exists()
    assert mailoutbox[-1].to == [support_agent.email]


@pytest.mark.parametrize(
    "url, action",
    [
        ("/admin/accounts/member/", "send_password_reset_link"),
        ("/admin/axes/accessattempt/", "lift_pauses"),
    ],
)
@pytest.mark.parametrize("key", ["abc", "\x00", "1.5", ""])
def test_a_ticked_row_that_is_no_row_is_refused_not_a_crash(
    client, support_agent, member, mailoutbox, url, action, key
):
    # Forged by hand (no list sends one): it reached the query and answered 500 (helper-95).
    client.force_login(support_agent)
    response = client.post(url, {"action": action, "_selected_action": [member.pk, key]})

    assert response.status_code == 400
    assert not mailoutbox


@pytest.mark.parametrize("language, heading", [("en", "By pause status"), ("ja", "一時停止の状態")])
def test_the_lockouts_lists_filter_is_named_in_plain_words(support_client, language, heading):
    # The sidebar read "By paused" (helper-152).
    support_client.cookies["django_language"] = language
    page = support_client.get("/admin/axes/accessattempt/").content.decode()
    assert heading in page


def test_the_last_sign_in_is_not_claimed_as_the_members_own(support_client, migrated_member):
    # It read 「会員ご本人のログインです」, also after a sign-in on the published default
    # password, which anyone may make (helper-152).
    page = support_client.get(f"/admin/accounts/member/{migrated_member.pk}/change/")
    assert "デフォルトのパスワードでのログインは、会員本人とは限りません。" in page.content.decode()
