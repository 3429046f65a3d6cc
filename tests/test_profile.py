import pytest

from tests.helpers import BACKOFFICE_PAGES

pytestmark = pytest.mark.django_db


def test_it_shows_the_seeds_profile_screen(member_client):
    page = member_client.get("/backoffice/profile/").content.decode()
    for text in [
        "<h1>マイプロフィール</h1>",  # the read-only page; the pages that change say 「…の変更」
        "プロフィール",
        "メインパスワードの編集",
        "サブパスワードの編集",
        "JPN1000001",
        "山田 太郎",
        "taro@example.com",
        "身分証明書番号",
    ]:
        assert text in page


def test_the_id_document_number_shows_only_its_last_four(member_client):
    page = member_client.get("/backoffice/profile/").content.decode()
    assert "5432" in page
    assert "AB98765432" not in page


def test_it_is_reached_from_the_account_menu(member_client):
    page = member_client.get("/backoffice/").content.decode()
    assert 'href="/backoffice/profile/"' in page
    assert "アカウント" in page


def test_it_needs_a_signed_in_member(client):
    response = client.get("/backoffice/profile/")
    assert response["Location"] == "/login/?next=/backoffice/profile/"


@pytest.mark.parametrize("path", BACKOFFICE_PAGES)
def test_each_page_takes_a_handful_of_queries(member_client, django_assert_max_num_queries, path):
    with django_assert_max_num_queries(6):
        assert member_client.get(path).status_code == 200


def test_the_member_picks_english_and_the_back_office_follows(member_client, member):
    response = member_client.post(
        "/i18n/setlang/", {"language": "en", "next": "/backoffice/profile/"}
    )
    assert response["Location"] == "/backoffice/profile/"
    member.refresh_from_db()
    assert member.preferred_language == "en"
    page = member_client.get("/backoffice/profile/").content.decode()
    assert '<html lang="en">' in page and "<h1>My profile</h1>" in page


def test_the_pages_that_change_something_say_so_in_their_heading(member_client):
    page = member_client.get("/backoffice/profile/pin/").content.decode()
    assert "<h1>マイプロフィールの変更</h1>" in page
