"""`manage.py createsuperuser` takes a member ID typed any way, and speaks one language."""

import io

import pytest
from django.core.management import CommandError, call_command

from accounts.models import Member

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("typed", ["jpn9000001", "ｊｐｎ９０００００１", "JPN 900-0001"])
def test_a_member_id_typed_any_way_makes_the_canonical_superuser(typed, monkeypatch):
    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", "Quiet-River-2026")
    call_command(
        "createsuperuser",
        interactive=False,
        member_id=typed,
        email="a@jenco.example",
        stdout=io.StringIO(),
    )
    admin = Member.objects.get()
    assert admin.member_id == "JPN9000001" and admin.is_superuser and admin.is_staff
    assert admin.check_password("Quiet-River-2026")


def test_the_member_id_may_come_from_the_environment(monkeypatch):
    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", "Quiet-River-2026")
    monkeypatch.setenv("DJANGO_SUPERUSER_MEMBER_ID", "jpn9000002")
    call_command(
        "createsuperuser", interactive=False, email="b@jenco.example", stdout=io.StringIO()
    )
    assert Member.objects.get().member_id == "JPN9000002"


def test_a_malformed_id_is_refused_in_english(monkeypatch):
    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", "Quiet-River-2026")
    with pytest.raises(CommandError, match="JPN followed by 7 digits|JPN"):
        call_command("createsuperuser", interactive=False, member_id="JPN12", stdout=io.StringIO())
    assert not Member.objects.exists()


def test_asked_interactively_every_prompt_is_english_and_the_id_is_read_as_typed(monkeypatch):
    from django.contrib.auth.management.commands import createsuperuser

    prompts, answers = [], iter(["ｊｐｎ 9000003", "c@jenco.example"])

    def typed(prompt):
        prompts.append(prompt)
        return next(answers)

    monkeypatch.setattr("builtins.input", typed)
    monkeypatch.setattr(
        createsuperuser.getpass,
        "getpass",
        lambda prompt="Password: ": prompts.append(prompt) or "Quiet-River-2026",
    )

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    out = io.StringIO()
    call_command("createsuperuser", interactive=True, stdout=out, stderr=out, stdin=Terminal())
    assert Member.objects.get().member_id == "JPN9000003"
    assert len(prompts) == 4 and all(prompt.isascii() for prompt in prompts), prompts
    assert out.getvalue().isascii(), out.getvalue()


@pytest.mark.parametrize("published", ["jenco@12345", "Jenco@12345"])
def test_the_published_default_password_never_makes_a_superuser(monkeypatch, published):
    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", published)
    with pytest.raises(CommandError, match="You cannot use the published default password."):
        call_command(
            "createsuperuser",
            interactive=False,
            member_id="JPN9000009",
            email="x@jenco.example",
            stdout=io.StringIO(),
        )
    assert not Member.objects.exists()


# --- An address of its own, as create_staff's -----------------------------------------------


@pytest.mark.parametrize("email", ["hanako@example.com", "Hanako+admin@EXAMPLE.com"])
def test_a_members_inbox_never_makes_a_superuser(monkeypatch, email):
    """ "Forgot password?" would send the superuser's reset links to whoever reads it."""
    Member.objects.create_user("JPN1000001", email="hanako@example.com")
    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", "Quiet-River-2026")
    with pytest.raises(CommandError, match="reaches the same inbox as another account's"):
        call_command(
            "createsuperuser",
            interactive=False,
            member_id="JPN9000009",
            email=email,
            stdout=io.StringIO(),
        )
    assert not Member.objects.filter(is_superuser=True).exists()


def test_an_address_from_the_environment_is_held_to_the_same_rule(monkeypatch):
    Member.objects.create_user("JPN1000001", email="hanako@example.com")
    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", "Quiet-River-2026")
    monkeypatch.setenv("DJANGO_SUPERUSER_EMAIL", "hanako@example.com")
    with pytest.raises(CommandError, match="reaches the same inbox"):
        call_command(
            "createsuperuser", interactive=False, member_id="JPN9000009", stdout=io.StringIO()
        )
    assert not Member.objects.filter(is_superuser=True).exists()


def test_asked_interactively_a_members_inbox_is_refused_and_asked_again(monkeypatch):
    from django.contrib.auth.management.commands import createsuperuser

    Member.objects.create_user("JPN1000001", email="hanako@example.com")
    answers = iter(["JPN9000003", "Hanako+x@example.com", "admin@jenco.example"])
    monkeypatch.setattr("builtins.input", lambda prompt: next(answers))
    monkeypatch.setattr(createsuperuser.getpass, "getpass", lambda prompt="": "Quiet-River-2026")

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    out, err = io.StringIO(), io.StringIO()
    call_command("createsuperuser", interactive=True, stdout=out, stderr=err, stdin=Terminal())
    assert "reaches the same inbox as another account's" in err.getvalue()
    assert Member.objects.get(member_id="JPN9000003").email == "admin@jenco.example"
