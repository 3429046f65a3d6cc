"""The captcha answer as a member on a Japanese keyboard types it.

The answer box takes full-width digits (its pattern allows ０-９, and a Japanese input method in
full-width mode types them); the answer counts as the digits it shows.
"""

import re
import subprocess

import pytest
from captcha.models import CaptchaStore
from django.conf import settings
from django.contrib.auth import SESSION_KEY
from django.core.cache import cache

from accounts import forms
from tests.helpers import PASSWORD, reset_link

pytestmark = pytest.mark.django_db

FULL_WIDTH = str.maketrans("0123456789", "０１２３４５６７８９")


@pytest.fixture(autouse=True)
def _clear_throttles():
    cache.clear()


def full_width_captcha(*, wrong=False, around="") -> dict:
    """The picture's answer typed in full-width digits (０２０７ for 0207)."""
    key = CaptchaStore.generate_key()
    answer = CaptchaStore.objects.get(hashkey=key).response
    if wrong:
        answer = f"{(int(answer) + 1) % 10000:04d}"
    return {"captcha_0": key, "captcha_1": around + answer.translate(FULL_WIDTH) + around}


def test_a_sign_in_with_the_answer_in_full_width_digits_signs_in(client, member):
    response = client.post(
        "/login/", {"username": "JPN1000001", "password": PASSWORD, **full_width_captcha()}
    )

    assert response["Location"] == "/backoffice/"
    assert client.session[SESSION_KEY] == str(member.pk)


def test_spaces_around_the_answer_do_not_matter(client, member):
    # A full-width space (U+3000) is what the space bar types in Japanese input mode.
    client.post(
        "/login/",
        {"username": "JPN1000001", "password": PASSWORD, **full_width_captcha(around="\u3000")},
    )

    assert client.session[SESSION_KEY] == str(member.pk)


def test_a_wrong_answer_in_full_width_digits_still_fails(client, member):
    response = client.post(
        "/login/",
        {"username": "JPN1000001", "password": PASSWORD, **full_width_captcha(wrong=True)},
    )

    assert "画像の数字と一致しません" in response.content.decode()
    assert SESSION_KEY not in client.session


def test_forgot_password_takes_the_answer_in_full_width_digits(client, member, mailoutbox):
    response = client.post(
        "/password/forgot/",
        {"username": "JPN1000001", "email": "taro@example.com", **full_width_captcha()},
    )

    assert response["Location"] == "/password/forgot/sent/"
    assert len(mailoutbox) == 1
    assert "https://jenco.example/password/reset/" in mailoutbox[0].body


def test_forgot_password_refuses_a_wrong_full_width_answer(client, member, mailoutbox):
    response = client.post(
        "/password/forgot/",
        {"username": "JPN1000001", "email": "taro@example.com", **full_width_captcha(wrong=True)},
    )

    assert response.status_code == 200
    assert "画像の数字と一致しません" in response.content.decode()
    assert mailoutbox == []


def test_a_picture_another_post_used_meanwhile_sends_nothing(client, member, mailoutbox):
    # Posts sent at once with one answered picture each read it before any deleted it, and
    # each went through: one picture answered bought as many requests as were raced.
    from django.db.models import QuerySet

    from tests.helpers import solved_captcha

    read = QuerySet.first

    def read_then_used_by_another_post(queryset):
        found = read(queryset)
        if isinstance(found, CaptchaStore):
            CaptchaStore.objects.filter(pk=found.pk).delete()  # the other post, meanwhile
        return found

    captcha = solved_captcha()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(QuerySet, "first", read_then_used_by_another_post)
        response = client.post(
            "/password/forgot/", {"username": "JPN1000001", "email": "taro@example.com", **captcha}
        )

    assert response.status_code == 200
    assert "画像の数字と一致しません" in response.content.decode()
    assert mailoutbox == []


CAPTCHA_FORMS = [
    form
    for form in vars(forms).values()
    if isinstance(form, type) and "captcha" in getattr(form, "base_fields", {})
]


@pytest.mark.parametrize("form", CAPTCHA_FORMS, ids=lambda form: form.__name__)
def test_every_form_with_a_captcha_takes_full_width_digits(form):
    assert len(CAPTCHA_FORMS) >= 4  # sign-in, forgot, reset password, reset PIN
    typed = full_width_captcha()
    field = form.base_fields["captcha"]

    field.clean([typed["captcha_0"], typed["captcha_1"]])  # raises if refused
    used_up = not CaptchaStore.objects.filter(hashkey=typed["captcha_0"]).exists()
    # The sign-in uses its captcha up with the post's other writes (LoginForm.use_captcha).
    assert used_up or form is forms.LoginForm


# --- Markup a screen reader and the HTML checker accept (issue 14) ---------------------------


@pytest.mark.parametrize("path", ["/login/", "/password/forgot/", "/pin/forgot/"])
def test_the_answer_box_has_a_name_and_the_hidden_key_claims_nothing(client, path):
    for response in (client.get(path), client.post(path, {})):  # also after an empty submit
        page = response.content.decode()
        hidden = re.search(r'<input type="hidden" name="captcha_0"[^>]*>', page).group(0)
        for attr in ("required", "autocomplete", "aria-invalid", "aria-describedby"):
            assert attr not in hidden, (path, hidden)
        answer = re.search(r'<input type="text" name="captcha_1"[^>]*>', page).group(0)
        assert 'aria-label="画像の4桁の数字"' in answer


def test_messages_are_a_status_region_holding_a_whole_list(member_client):
    member_client.post("/pin/forgot/", {"next": "/backoffice/"})
    page = member_client.get("/backoffice/").content.decode()
    assert re.search(r'<div class="messages" role="status"><ul>\s*<li class="message', page)
    assert '<ul class="messages" role="status">' not in page


# --- The digits spoken (flite), for a member who cannot see the picture -----------------------

CAPTCHA_PAGES = ["/login/", "/password/forgot/", "/pin/forgot/"]
# The emailed links' forms (new password or PIN twice, and the captcha).
RESET_FORMS = {"password reset": "password", "PIN reset": "pin"}


@pytest.mark.parametrize("form", CAPTCHA_PAGES + list(RESET_FORMS))
@pytest.mark.parametrize(
    ("language", "label"),
    [("ja", "数字を音声で聞く（英語）"), ("en", "Hear the digits (in English)")],
)
def test_every_captcha_offers_its_digits_spoken(client, member, form, language, label, tmp_path):
    path = reset_link(RESET_FORMS[form], member) if form in RESET_FORMS else form
    response = client.get(path, headers={"accept-language": language}, follow=True)
    page = response.content.decode()
    key = re.search(r'name="captcha_0" value="([0-9a-f]{40})"', page)[1]
    link = re.search(
        r'<a class="captcha-audio" href="([^"]+)" data-captcha-audio>([^<]+)</a>', page
    )
    assert link[1] == f"/captcha/audio/{key}.wav" and link[2] == label

    recording = client.get(link[1])
    wav = b"".join(recording.streaming_content) if recording.streaming else recording.content
    assert recording.status_code == 200 and recording["Content-Type"] == "audio/wav"
    assert wav[:4] == b"RIFF" and wav[8:12] == b"WAVE" and len(wav) > 20_000  # ~2 s of speech
    # This picture's digits: flite's own recording of them, one by one, is the same file.
    digits = CaptchaStore.objects.get(hashkey=key).challenge
    spoken = tmp_path / "digits.wav"
    flite = [settings.CAPTCHA_FLITE_PATH, "-t", ", ".join(digits), "-o", str(spoken)]
    subprocess.run(flite, check=True)
    assert wav == spoken.read_bytes()


def test_a_used_or_unknown_captcha_has_no_recording(client):
    assert client.get("/captcha/audio/" + "0" * 40 + ".wav").status_code == 410


def test_without_flite_there_is_no_link_and_nothing_breaks(client, member, settings, monkeypatch):
    from captcha.conf import settings as captcha_settings

    settings.CAPTCHA_FLITE_PATH = None
    monkeypatch.setattr(captcha_settings, "CAPTCHA_FLITE_PATH", None)
    for form in CAPTCHA_PAGES + list(RESET_FORMS):
        path = reset_link(RESET_FORMS[form], member) if form in RESET_FORMS else form
        response = client.get(path, follow=True)
        page = response.content.decode()
        assert response.status_code == 200 and 'name="captcha_0"' in page
        assert "captcha-audio" not in page
    # An address kept from before (a page open while flite was removed): not found, no 500.
    key = CaptchaStore.generate_key()
    assert client.get(f"/captcha/audio/{key}.wav").status_code == 404


KEY = re.compile(r"[0-9a-f]{40}")


def secrets_drawn(monkeypatch) -> list[str]:
    """Every key `secrets.token_hex` draws from now on (it still draws them)."""
    import secrets

    drawn = []
    real = secrets.token_hex
    monkeypatch.setattr(secrets, "token_hex", lambda n: drawn.append(real(n)) or drawn[-1])
    return drawn


def test_the_refresh_gives_a_new_picture_keyed_like_every_other(client, monkeypatch):
    # The library's refresh keyed its picture with a SHA-1 of `random` and the clock, where
    # every other captcha of ours draws its key from `secrets` (helper-132).
    drawn = secrets_drawn(monkeypatch)
    asked = {"headers": {"x-requested-with": "XMLHttpRequest"}}
    first = client.get("/captcha/refresh/", **asked).json()
    second = client.get("/captcha/refresh/", **asked).json()
    assert first["key"] != second["key"] and KEY.fullmatch(first["key"])
    assert [first["key"], second["key"]] == drawn
    assert first["image_url"] == f"/captcha/image/{first['key']}/"
    assert client.get(first["image_url"])["Content-Type"] == "image/png"
    assert CaptchaStore.objects.filter(hashkey=first["key"]).exists()
    assert client.get("/captcha/refresh/").status_code == 404  # not the page's script
    assert client.post("/captcha/refresh/", **asked).status_code == 405


@pytest.mark.parametrize("path", ["/password/forgot/", "/pin/forgot/", "/register/"])
def test_the_forms_pictures_are_keyed_from_secrets(client, monkeypatch, path):
    # Not the library's CaptchaStore.generate_key (a SHA-1 of `random` and the clock).
    drawn = secrets_drawn(monkeypatch)
    page = client.get(path).content.decode()
    key = re.search(r'name="captcha_0" value="([0-9a-f]{40})"', page)[1]
    assert key in drawn
