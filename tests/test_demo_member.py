"""`make run`'s demo member (manage.py create_demo_member)."""

from io import StringIO

import pytest
from django.core.management import call_command

from accounts.models import Member

pytestmark = pytest.mark.django_db


def run() -> str:
    out = StringIO()
    call_command("create_demo_member", stdout=out)
    return out.getvalue()


def test_it_creates_the_member_of_the_readme_on_the_defaults():
    out = run()
    member = Member.objects.get(member_id="JPN1234567")
    assert member.on_default_password and member.on_default_pin
    assert "hanako@example.com" in out and "jenco@12345" in out


def test_run_again_it_names_the_email_registered_now():
    run()
    Member.objects.filter(member_id="JPN1234567").update(email="hanako.new@example.com")
    out = run()
    assert "hanako.new@example.com" in out
    assert "hanako@example.com" not in out
    assert Member.objects.filter(member_id="JPN1234567").count() == 1


def test_run_again_it_says_where_the_reset_email_will_be(settings, tmp_path):
    run()
    settings.MAILERS = {"default": {"BACKEND": "accounts.mail.ReadableConsoleBackend"}}
    assert "メールはこのコンソールに表示されます" in run()
    # make serve: the worker writes every message into a folder, not the console.
    settings.MAILERS = {
        "default": {
            "BACKEND": "django.core.mail.backends.filebased.EmailBackend",
            "OPTIONS": {"file_path": str(tmp_path)},
        }
    }
    out = run()
    assert f"メールは {tmp_path} のファイルに書き出されます" in out
    assert "コンソール" not in out
