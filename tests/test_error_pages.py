"""When something goes wrong, the member still gets our page, in their language."""

import pytest
from django.template.loader import render_to_string
from django.test import Client

pytestmark = pytest.mark.django_db


def test_a_missing_page_in_japanese(client):
    response = client.get("/no-such-page/")
    assert response.status_code == 404
    page = response.content.decode()
    assert '<html lang="ja">' in page and "ページが見つかりません" in page
    assert "Not Found" not in page


def test_a_missing_page_in_english(client):
    client.cookies["django_language"] = "en"
    page = client.get("/backoffice/no-such-page/").content.decode()
    assert '<html lang="en">' in page and "Page not found" in page


def test_a_form_refused_by_csrf_says_what_to_do(member):
    client = Client(enforce_csrf_checks=True)
    response = client.post("/login/", {"username": "JPN1000001", "password": "x"})
    assert response.status_code == 403
    page = response.content.decode()
    assert "もう一度送信してください" in page and "再読み込み" in page
    assert "CSRF" not in page


def test_a_request_for_a_host_we_do_not_serve_gets_our_400_page():
    response = Client(raise_request_exception=False).get("/login/", HTTP_HOST="evil.example")
    assert response.status_code == 400
    assert "リクエストを処理できません" in response.content.decode()


def test_the_500_page_renders_without_a_request_in_both_languages():
    page = render_to_string("500.html")
    assert "エラーが発生しました" in page and "Something went wrong" in page


def test_browsers_asking_for_favicon_ico_get_our_icon(client):
    response = client.get("/favicon.ico")
    assert response.status_code == 302 and response["Location"].endswith("favicon.svg")
