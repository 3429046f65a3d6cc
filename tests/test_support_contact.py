"""Where members reach JENCO Support: pages tell them to contact it (a lost phone and its
recovery codes, a mailbox they lost) and mails say so too; JENCO_SUPPORT_EMAIL is shown in
every page's footer and every mail's (helper-159: no page said how)."""

import pytest

from accounts.emails import render_member_email

pytestmark = pytest.mark.django_db

ADDRESS = "support@jenco.example"


@pytest.mark.parametrize(
    "language, words", [("ja", "お問い合わせ：JENCOサポート"), ("en", "Questions: JENCO Support")]
)
def test_every_page_s_footer_names_the_support_address(client, settings, language, words):
    settings.JENCO_SUPPORT_EMAIL = ADDRESS
    client.cookies["django_language"] = language
    for path in ("/login/", "/password/forgot/", "/register/"):
        page = client.get(path).content.decode()
        footer = page[page.index('<footer class="footer">') :]
        assert words in footer
        assert f'<a href="mailto:{ADDRESS}">{ADDRESS}</a>' in footer


def test_without_an_address_the_footer_offers_none(client, settings):
    settings.JENCO_SUPPORT_EMAIL = ""
    page = client.get("/login/").content.decode()
    assert "mailto:" not in page and "お問い合わせ：JENCOサポート" not in page


@pytest.mark.parametrize(
    "language, words",
    [
        ("ja", f"お問い合わせ：JENCOサポート {ADDRESS}"),
        ("en", f"Questions: JENCO Support {ADDRESS}"),
    ],
)
def test_every_mail_names_the_support_address(member, settings, language, words):
    settings.JENCO_SUPPORT_EMAIL = ADDRESS
    member.preferred_language = language
    message = render_member_email(member, "pin_changed")

    assert words in message["body"]
    assert ADDRESS in message["html"]


def test_without_an_address_mails_name_none(member, settings):
    settings.JENCO_SUPPORT_EMAIL = ""
    footer = render_member_email(member, "pin_changed")["body"].split("\n--\n")[-1]
    assert "JENCOサポート" not in footer and "@" not in footer
