"""Admin reads in one language (issue 17): the Japanese admin had Django 6.1's "- Select an
option -" and django-axes' English labels ("Access attempts", "Attempted Access: 2026-12-02
13:20:05.325007+00:00") among its Japanese."""

import html
import re

import pytest
from axes.models import AccessAttempt

pytestmark = pytest.mark.django_db

# What may stay in Latin letters on a Japanese page: names, IDs, addresses, the brand, a path,
# a header's own name, a language named in itself.
ALLOWED = re.compile(
    r"^(JENCO|JPN\d{7}|[\w.+-]+@[\w.-]+|/login/|HTTP Accept:?|English|UA|\d[\d.]*)$"
)


def english_words(page: str) -> set[str]:
    """Text of the page, piece by piece, that has Latin words and no Japanese."""
    text = re.sub(r"<(script|style|svg).*?</\1>", "", page, flags=re.S)
    pieces = {html.unescape(piece).strip() for piece in re.split(r"<[^>]+>", text)}
    return {
        piece
        for piece in pieces
        if re.search(r"[A-Za-z]{3,}", piece)
        and not re.search(r"[\u3040-\u30ff\u4e00-\u9fff]", piece)
        and not ALLOWED.match(piece)
    }


@pytest.fixture
def attempt(db) -> AccessAttempt:
    return AccessAttempt.objects.create(
        username="JPN1000001",
        ip_address="203.0.113.7",
        user_agent="UA",
        path_info="/login/",
        failures_since_start=3,
    )


def test_the_japanese_admin_has_no_english_labels(client, support_agent, member, attempt):
    client.force_login(support_agent)
    client.cookies["django_language"] = "ja"
    for url in [
        "/admin/",
        "/admin/accounts/member/",
        f"/admin/accounts/member/{member.pk}/change/",
        "/admin/accounts/securityevent/",
        "/admin/axes/accessattempt/",
        f"/admin/axes/accessattempt/{attempt.pk}/change/",
    ]:
        response = client.get(url)
        assert response.status_code == 200, url
        assert english_words(response.content.decode()) == set(), url


def test_a_lockout_is_named_by_member_address_and_time(client, support_agent, attempt):
    client.force_login(support_agent)
    client.cookies["django_language"] = "en"
    page = client.get(f"/admin/axes/accessattempt/{attempt.pk}/change/").content.decode()
    assert "JPN1000001 from 203.0.113.7," in page
    assert "Attempted Access" not in page
    index = client.get("/admin/").content.decode()
    assert "Sign-in lockouts" in index and ">Axes<" not in index


@pytest.mark.parametrize(
    ("language", "label"), [("ja", "<label>会員ID：</label>"), ("en", "<label>Member ID:</label>")]
)
def test_a_form_label_ends_with_the_languages_colon(client, support_agent, member, language, label):
    # Django's ":" after each label: full width after Japanese, as everywhere else here.
    client.force_login(support_agent)
    client.cookies["django_language"] = language
    assert label in client.get(f"/admin/accounts/member/{member.pk}/change/").content.decode()


@pytest.mark.parametrize(
    ("language", "section", "members"),
    [("ja", "会員とセキュリティ", "会員"), ("en", "Members and security", "Members")],
)
def test_the_breadcrumbs_name_the_section_and_its_list_apart(
    client, support_agent, member, language, section, members
):
    # The section was named as its list: 「ホーム › 会員 › 会員 › JPN1000001」.
    client.force_login(support_agent)
    client.cookies["django_language"] = language
    page = client.get(f"/admin/accounts/member/{member.pk}/change/").content.decode()
    trail = re.search(r'<ol class="breadcrumbs">(.*?)</ol>', page, re.S)[1]
    assert f'<a href="/admin/accounts/">{section}</a>' in trail
    assert f'<a href="/admin/accounts/member/">{members}</a>' in trail
    # The addresses and permissions go by the app's label, which stays "accounts".
    assert client.get("/admin/accounts/").status_code == 200
    assert support_agent.has_perm("accounts.send_reset_link")
    assert section in client.get("/admin/").content.decode()  # the home page's section


def test_a_required_field_left_empty_reads_as_a_japanese_sentence():
    """django-simple-captcha's Japanese for Django's "This field is required.", which wins
    over Django's own, has no 「。」; every other message on the page ends with one."""
    from django import forms
    from django.utils import translation

    with translation.override("ja"):
        with pytest.raises(forms.ValidationError) as refused:
            forms.CharField().clean("")
        assert refused.value.messages == ["この項目は必須です。"]
