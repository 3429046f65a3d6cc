"""Staff sign in to admin through the member sign-in, never through admin's own form (issue 12).

/admin/login/ had no captcha, wrote nothing to the security log and set no absolute session
lifetime. Now it only sends to /login/, where all three apply, and keeps `next` if it is a
path on this site.
"""

import time

import pytest
from django.contrib.auth import SESSION_KEY

from accounts.models import SecurityEvent
from tests.helpers import PASSWORD, sign_in

pytestmark = pytest.mark.django_db


def test_admin_login_sends_to_the_member_sign_in_keeping_the_page(client):
    response = client.get("/admin/login/?next=/admin/accounts/member/")
    assert response.status_code == 302
    assert response["Location"] == "/login/?next=/admin/accounts/member/"


def test_an_admin_page_leads_to_the_member_sign_in(client):
    response = client.get("/admin/accounts/member/", follow=True)
    assert response.redirect_chain[-1][0] == "/login/?next=/admin/accounts/member/"
    assert 'name="captcha_1"' in response.content.decode()


def test_posting_credentials_to_admin_login_signs_nobody_in(client, staff):
    response = client.post(
        "/admin/login/?next=/admin/",
        {"username": "JPN9000001", "password": PASSWORD, "next": "/admin/"},
    )
    assert response["Location"] == "/login/?next=/admin/"
    assert SESSION_KEY not in client.session
    assert client.get("/admin/").status_code == 302
    assert not SecurityEvent.objects.filter(kind="sign_in").exists()


@pytest.mark.parametrize(
    "elsewhere",
    ["https://evil.example/admin/", "//evil.example/admin/", "/\\evil.example/", "admin/"],
)
def test_next_is_kept_only_as_a_path_on_this_site(client, elsewhere):
    response = client.get("/admin/login/", {"next": elsewhere})
    assert response["Location"] == "/login/?next=/admin/"


def test_staff_sign_in_through_the_member_sign_in_and_land_in_admin(client, staff):
    response = sign_in(client, "jpn９０００００１", next="/admin/")
    assert response["Location"] == "/admin/"
    assert client.get("/admin/").status_code == 200
    assert SecurityEvent.objects.get(kind="sign_in").member == staff


def test_a_failed_staff_sign_in_is_in_the_security_log(client, staff):
    response = sign_in(client, "JPN9000001", "not-the-password", next="/admin/")
    assert response.status_code == 200
    assert SecurityEvent.objects.get(kind="sign_in_failed").member_id_typed == "JPN9000001"
    assert client.get("/admin/").status_code == 302


def test_a_member_who_signs_in_for_admin_is_told_it_is_not_theirs(client, member):
    response = sign_in(client, "JPN1000001", next="/admin/")
    assert response["Location"] == "/admin/"
    page = client.get("/admin/", follow=True)
    assert page.status_code == 200
    assert "このアカウントではスタッフ用のページを開けません" in page.content.decode()
    assert 'name="password"' not in page.content.decode()
    assert '<a href="/backoffice/">バックオフィスに戻る</a>' in page.content.decode()  # a way back


def test_signed_in_staff_opening_admin_login_go_on_to_the_page(client, staff):
    sign_in(client, "JPN9000001", next="/admin/")
    response = client.get("/admin/login/?next=/admin/accounts/member/")
    assert response["Location"] == "/admin/accounts/member/"


def test_an_admin_session_ends_at_the_absolute_lifetime(client, staff, settings):
    settings.JENCO_SESSION_MAX_SECONDS = 20
    sign_in(client, "JPN9000001", next="/admin/")
    assert client.get("/admin/").status_code == 200
    session = client.session
    session["signed_in_at"] = int(time.time()) - 40
    session.save()
    response = client.get("/admin/accounts/member/", follow=True)
    assert response.redirect_chain[-1][0] == "/login/?next=/admin/accounts/member/"
    assert SESSION_KEY not in client.session
