"""`manage.py create_staff`: a support agent's account, in a group, without being a superuser."""

import io

import pytest
from django.core.management import CommandError, call_command
from django.utils import translation

from accounts import emails
from accounts.models import Member

pytestmark = pytest.mark.django_db

PASSWORD = "Quiet-River-2026"


def create_staff(*args, language="en", **options):
    out = io.StringIO()
    call_command("create_staff", *args, language=language, stdout=out, **options)
    return out.getvalue()


def test_a_support_agent_is_staff_in_the_group_and_no_superuser(monkeypatch, client):
    monkeypatch.setenv("JENCO_STAFF_PASSWORD", PASSWORD)
    said = create_staff(
        "ｊｐｎ９０００００２",
        email="ＡＧＥＮＴ＠jenco.example",
        group="Support",
        name="鈴木　一郎",
    )
    agent = Member.objects.get(member_id="JPN9000002")
    # What was stored, as normalised: the address reset links go to.
    assert said.strip() == (
        "Staff account JPN9000002 created in the group Support: address agent@jenco.example, "
        "name 鈴木　一郎, language en."
    )
    assert agent.is_staff and not agent.is_superuser and agent.check_password(PASSWORD)
    assert list(agent.groups.values_list("name", flat=True)) == ["Support"]
    assert agent.has_perm("accounts.view_member") and not agent.has_perm("accounts.change_member")
    client.force_login(agent)
    assert client.get("/admin/accounts/member/").status_code == 200


def test_the_password_is_asked_twice_and_must_match(monkeypatch):
    answers = iter([PASSWORD, "something-else-2026"])
    monkeypatch.setattr("getpass.getpass", lambda prompt="": next(answers))
    with pytest.raises(CommandError, match="The two passwords differ. Nothing was created."):
        create_staff("JPN9000003", email="a@jenco.example", group="Support")
    assert not Member.objects.exists()


@pytest.mark.parametrize(
    ("member_id", "group", "password", "message"),
    [
        ("JPN12", "Support", PASSWORD, "JPN"),
        (
            "JPN9000004",
            "Nobody",
            PASSWORD,
            "There is no group Nobody. Groups: Supervisor, Support.",
        ),
        ("JPN9000004", "Support", "short", "too short"),
        ("JPN9000004", "Support", "jenco@12345", "You cannot use the published default password."),
        ("JPN9000004", "Support", "Jenco@12345", "You cannot use the published default password."),
    ],
    ids=["malformed ID", "unknown group", "weak password", "published default", "its capital"],
)
def test_bad_input_creates_nothing_and_says_why(monkeypatch, member_id, group, password, message):
    monkeypatch.setenv("JENCO_STAFF_PASSWORD", password)
    with pytest.raises(CommandError, match=message):
        create_staff(member_id, email="a@jenco.example", group=group)
    assert not Member.objects.exists()


def test_an_existing_member_id_is_refused_in_japanese_by_default(monkeypatch, member):
    monkeypatch.setenv("JENCO_STAFF_PASSWORD", PASSWORD)
    with pytest.raises(CommandError, match="JPN1000001 は既に存在します。"):
        create_staff("jpn1000001", email="a@jenco.example", group="Support", language=None)
    member.refresh_from_db()
    assert not member.is_staff


@pytest.mark.parametrize("email", ["not an address", "agent@jen\u202eco.example"])
def test_an_invalid_email_is_refused(monkeypatch, email):
    monkeypatch.setenv("JENCO_STAFF_PASSWORD", PASSWORD)
    with pytest.raises(CommandError, match="email"):
        create_staff("JPN9000005", email=email, group="Support")
    assert not Member.objects.exists()


@pytest.mark.parametrize(("language", "saved"), [("en", "en"), ("ja", "ja"), (None, "ja")])
def test_the_language_given_is_the_accounts(monkeypatch, language, saved):
    """--language is the agent's language in admin and in mail, not only the command's."""
    monkeypatch.setenv("JENCO_STAFF_PASSWORD", PASSWORD)
    create_staff("JPN9000003", email="agent3@jenco.example", group="Support", language=language)
    assert Member.objects.get(member_id="JPN9000003").preferred_language == saved


def test_the_name_and_email_are_read_as_the_ja_import_reads_them(monkeypatch, mailoutbox):
    monkeypatch.setenv("JENCO_STAFF_PASSWORD", PASSWORD)

    create_staff(
        "JPN9000005",
        email="ＡＧＥＮＴ＠ＪＥＮＣＯ.example",
        group="Support",
        name="Sato\r\nBcc: attacker@example.com",
    )

    agent = Member.objects.get(member_id="JPN9000005")
    assert agent.email == "agent@jenco.example"
    assert agent.name == "Sato Bcc: attacker@example.com"  # one line: no header-like line
    emails.send_member_email(agent, "password_changed")
    assert "Sato Bcc:" in mailoutbox[-1].body and "\nBcc:" not in mailoutbox[-1].body


def test_a_name_with_another_control_character_creates_nothing(monkeypatch):
    monkeypatch.setenv("JENCO_STAFF_PASSWORD", PASSWORD)

    for name in ("Sa\x00to", "Sa\u202eto"):  # NUL; a right-to-left override
        with pytest.raises(CommandError, match="The name has a control or invisible character"):
            create_staff("JPN9000006", email="a@jenco.example", group="Support", name=name)

    assert not Member.objects.exists()


def test_a_bad_email_is_told_once(monkeypatch):
    monkeypatch.setenv("JENCO_STAFF_PASSWORD", PASSWORD)
    with pytest.raises(CommandError) as refused:
        create_staff("JPN9000007", email="not-an-address", group="Support")
    assert str(refused.value) == "Enter an email address such as name@example.com."


@pytest.mark.parametrize(
    ("stored", "typed"),
    [
        ("taro@example.com", "TARO@example.com"),
        ("taro@example.com", "taro+staff@example.com"),
        ("taro.yamada@gmail.com", "t.a.r.o.y.a.m.a.d.a@googlemail.com"),
        ("saburo@例え.jp", "saburo@xn--r8jz45g.jp"),  # one domain, two spellings
    ],
)
def test_an_address_reaching_another_accounts_inbox_is_refused(monkeypatch, member, stored, typed):
    """Whoever reads that mailbox could reset the staff account's password."""
    monkeypatch.setenv("JENCO_STAFF_PASSWORD", PASSWORD)
    Member.objects.filter(pk=member.pk).update(email=stored)
    address = typed
    with pytest.raises(CommandError) as refused:
        create_staff("JPN9000008", email=address, group="Support")
    assert str(refused.value) == (
        f"{address.lower()} reaches the same inbox as another account's address. Give the staff "
        "account an address of its own."
    )
    assert not Member.objects.filter(member_id="JPN9000008").exists()


@pytest.mark.parametrize("email", ["", "   "])
def test_an_account_without_an_address_is_refused(monkeypatch, email):
    """Reset links and notices go to it; two blank ones were also "the same address"."""
    monkeypatch.setenv("JENCO_STAFF_PASSWORD", PASSWORD)
    for member_id in ("JPN9000010", "JPN9000011"):
        with pytest.raises(CommandError, match="Enter an email address such as"):
            create_staff(member_id, email=email, group="Support")
    assert not Member.objects.exists()


def test_a_name_too_long_is_refused_naming_the_name_before_the_password_is_asked(monkeypatch):
    def typed(prompt=""):
        raise AssertionError("the password was asked for, then refused for the name")

    monkeypatch.delenv("JENCO_STAFF_PASSWORD", raising=False)  # so it would be asked for
    monkeypatch.setattr("getpass.getpass", typed)
    with pytest.raises(CommandError) as refused:
        create_staff("JPN9000009", email="a9@jenco.example", group="Support", name="x" * 151)
    assert str(refused.value).startswith("name: Ensure this value has at most 150 characters")
    with pytest.raises(CommandError) as refused:
        create_staff(
            "JPN9000009", email="a9@jenco.example", group="Support", name="x" * 151, language="ja"
        )
    assert str(refused.value).startswith("氏名：")
    assert not Member.objects.exists()


def test_the_options_help_is_in_the_descriptions_language(capsys):
    from accounts.management.commands.create_staff import Command

    with translation.override("ja"):
        Command().create_parser("manage.py", "create_staff").print_help()
    shown = capsys.readouterr().out
    assert "スタッフアカウントのID：JPNと数字7桁" in shown
    assert "メールの宛名に使う氏名" in shown and "既定は ja" in shown
    assert "Support または Supervisor" in shown
