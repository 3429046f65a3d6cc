"""A password manager saves a new password under the member's ID.

The pages that set the password a member signs in with have no ID field of their own, so
Chromium's guidance ("Use hidden fields for implicit information") is followed: a hidden
username field in the same form. Without it, a phone's password manager saved the new
password with no ID, or under whatever ID it guessed, and the member's next sign-in filled in
nothing (helper-130). The pages that set anything else leave it out: a sub password or a PIN
saved under the ID would replace the saved main password."""

import re

import pytest

from tests.helpers import DEFAULT_PIN, reset_link

pytestmark = pytest.mark.django_db


def username_saved_with(page: str) -> str | None:
    """The ID the page's form offers a password manager with its new password, or None."""
    for tag in re.findall(r"<input\b[^>]*>", the_form(page)):
        if 'autocomplete="username"' in tag:
            assert re.search(r"\shidden\b", tag), f"shown to the member: {tag}"
            assert "name=" not in tag, f"sent with the form: {tag}"
            return re.search(r'value="([^"]*)"', tag)[1]
    return None


def the_form(page: str) -> str:
    """The page's form with secrets in it (not the header's language or sign-out forms)."""
    forms = [
        form for form in re.findall(r"<form\b.*?</form>", page, re.S) if 'type="password"' in form
    ]
    assert len(forms) == 1, "no one form with a secret on the page"
    return forms[0]


def opened(client, path: str) -> str:
    return client.get(path, follow=True).content.decode()


def test_the_new_password_page_offers_the_member_id(member_client, member):
    page = opened(member_client, "/backoffice/profile/password/")
    assert username_saved_with(page) == "JPN1000001"


def test_the_first_sign_ins_password_step_offers_the_member_id(migrated_client, migrated_member):
    changed = migrated_client.post(
        "/backoffice/profile/pin/",
        {"current_pin": DEFAULT_PIN, "new_pin1": "482913", "new_pin2": "482913"},
    )
    page = opened(migrated_client, changed["Location"])  # the gate's next step
    assert 'name="new_password1"' in page
    assert username_saved_with(page) == "JPN2000001"


def test_a_reset_links_password_page_offers_the_member_id(client, member):
    page = opened(client, reset_link("password", member))
    assert 'autocomplete="new-password"' in page
    assert username_saved_with(page) == "JPN1000001"


def test_an_unusable_reset_link_offers_nothing(client, member):
    page = opened(client, reset_link("password", member)[:-3] + "xyz/")
    assert "JPN1000001" not in page


@pytest.mark.parametrize("path", ["/backoffice/profile/sub-password/", "/backoffice/profile/pin/"])
def test_other_secrets_are_not_offered_under_the_id(member_client, path):
    assert username_saved_with(opened(member_client, path)) is None


def test_a_reset_links_pin_page_offers_nothing(client, member):
    assert username_saved_with(opened(client, reset_link("pin", member))) is None


def test_registration_offers_nothing_before_there_is_an_id(client):
    assert username_saved_with(opened(client, "/register/")) is None


def test_the_field_changes_nothing_the_form_sends(member_client, member):
    page = opened(member_client, "/backoffice/profile/password/")
    assert 'name="username"' not in the_form(page)
