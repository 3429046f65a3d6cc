"""Every account email, with a member whose name and addresses are hostile.

A name comes from a JA import or registration, an address from the member: whatever they hold,
the HTML part shows it as text (never as markup), the plain-text part shows it as typed, and
the subject stays one line. The templates are read from templates/emails/, so a new email is
covered the day it is added.
"""

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from django.conf import settings

from accounts.emails import render_member_email
from accounts.models import Member
from tests.helpers import solved_captcha

pytestmark = pytest.mark.django_db

EMAILS = Path(settings.BASE_DIR, "templates", "emails")
TEMPLATES = sorted(path.name.removesuffix("_subject.txt") for path in EMAILS.glob("*_subject.txt"))

HOSTILE_NAME = "<script>alert(1)</script><b>Bold</b>"
HOSTILE_EMAIL = '"<img\\ src=https://evil.example/t.png>"@example.com'
HOSTILE_LINK = 'https://jenco.example/password/reset/MQ/x/"><img src=x onerror=alert(1)>'
HOSTILE = {
    "email": HOSTILE_EMAIL,
    "new_email": HOSTILE_EMAIL,
    "link": HOSTILE_LINK,
    "hours": "<b>24</b>",
    "minutes": "<b>30</b>",
    "when": "<script>when</script>",
}
# What base.html writes, and the links urlize makes of the web addresses in the body.
TEMPLATE_TAGS = {"html", "head", "meta", "title", "body", "p", "br", "a"}


class Tags(HTMLParser):
    def __init__(self, html: str):
        super().__init__()
        self.tags: list[tuple[str, dict]] = []
        self.feed(html)
        self.close()

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))


def hostile_member(language: str, name: str = HOSTILE_NAME) -> Member:
    return Member.objects.create_user(
        "JPN1000009", email=HOSTILE_EMAIL, name=name, preferred_language=language
    )


def test_every_email_has_a_subject_and_a_body():
    assert len(TEMPLATES) >= 10
    for name in TEMPLATES:
        assert (EMAILS / f"{name}_body.txt").exists(), name


@pytest.mark.parametrize("language", ["ja", "en"])
@pytest.mark.parametrize("template", TEMPLATES)
def test_the_html_part_holds_no_markup_from_a_name_or_an_address(template, language):
    mail = render_member_email(hostile_member(language), template, HOSTILE)

    tags = Tags(mail["html"]).tags
    assert {tag for tag, attrs in tags} <= TEMPLATE_TAGS
    for tag, attrs in tags:
        if tag == "a":
            assert re.match(r"https?://", attrs["href"]) and '"' not in attrs["href"]
        assert not any(name.startswith("on") for name in attrs)
    html = mail["html"]
    if "member.get_full_name" in (EMAILS / f"{template}_body.txt").read_text():
        assert "&lt;script&gt;alert(1)&lt;/script&gt;&lt;b&gt;Bold&lt;/b&gt;" in html
    for raw in ["<script", "<img", "<b>"]:
        assert raw not in html
    if "{{ new_email }}" in (EMAILS / f"{template}_body.txt").read_text():
        assert "&lt;img\\ src=https://evil.example/t.png&gt;" in html


@pytest.mark.parametrize("template", TEMPLATES)
def test_the_text_part_reads_as_typed(template):
    member = hostile_member("en", name="O'Brien & Co")
    mail = render_member_email(member, template, {"new_email": "o'brien&co@example.com"})

    assert "&amp;" not in mail["body"] and "&#x27;" not in mail["body"]
    if template.startswith("registration_"):  # to an address nobody has proved yet
        assert "O'Brien" not in mail["body"] and "Brien" not in mail["html"]
    else:
        assert "Dear O'Brien & Co," in mail["body"]
        assert "O&#x27;Brien &amp; Co" in mail["html"]
    if "{{ new_email }}" in (EMAILS / f"{template}_body.txt").read_text():
        assert "o'brien&co@example.com" in mail["body"]


@pytest.mark.parametrize("language", ["ja", "en"])
@pytest.mark.parametrize("template", TEMPLATES)
def test_the_subject_is_one_line_whatever_the_member_holds(template, language):
    member = hostile_member(language, name="Taro\r\nBcc: victim@example.com\u2028X")
    mail = render_member_email(member, template, {**HOSTILE, "new_email": "a@b.c\nBcc: x@y.z"})

    assert mail["subject"].startswith("[JENCO]" if language == "en" else "【JENCO】")
    assert not re.search(r"[\r\n\u2028\u2029\x0b\x0c\x85]", mail["subject"])


def test_links_in_the_html_part_still_open(settings):
    mail = render_member_email(
        hostile_member("en"),
        "password_reset_link",
        {"link": "https://jenco.example/password/reset/MQ/set-password/?a=1&b=2", "minutes": 30},
    )

    hrefs = [attrs["href"] for tag, attrs in Tags(mail["html"]).tags if tag == "a"]
    assert "https://jenco.example/password/reset/MQ/set-password/?a=1&b=2" in hrefs
    assert "<br>" in mail["html"]  # the text's line breaks are kept


def test_a_member_imported_with_markup_in_the_name_gets_it_as_text(client, mailoutbox):
    member = hostile_member("ja")
    member.email = "taro@example.com"
    member.save()

    client.post(
        "/password/forgot/",
        {"username": "JPN1000009", "email": "taro@example.com", **solved_captcha()},
    )

    (mail,) = mailoutbox
    html, mimetype = mail.alternatives[0]
    assert mimetype == "text/html"
    assert {tag for tag, attrs in Tags(html).tags} <= TEMPLATE_TAGS
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert f"{HOSTILE_NAME} 様" in mail.body


@pytest.mark.parametrize("template", TEMPLATES)
def test_only_our_own_addresses_become_links(template, settings):
    """A name (or an address) someone typed stays text in the HTML part, whatever web address
    it holds: no mail we send carries a link of a stranger's choosing. Ours still are links."""
    settings.SITE_URL = "https://jenco.example"
    member = hostile_member("en", name="Visit https://evil.example/jenco-login now")
    mail = render_member_email(
        member, template, {**HOSTILE, "link": "https://jenco.example/password/reset/MQ/x/"}
    )
    hrefs = [attrs["href"] for tag, attrs in Tags(mail["html"]).tags if tag == "a"]
    assert all(href.startswith("https://jenco.example/") for href in hrefs), hrefs
    assert "evil.example" not in "".join(hrefs)
    if "{{ link }}" in (EMAILS / f"{template}_body.txt").read_text():
        assert "https://jenco.example/password/reset/MQ/x/" in hrefs
