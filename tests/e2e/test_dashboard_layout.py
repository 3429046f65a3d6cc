"""The dashboard on a phone: each Profile shortcut reads on one line (helper-97 saw
「メインパスワードの編／集」 broken over two at 390 px)."""

import pytest

from tests.e2e.test_billing_journey import sign_in

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

LINES = """() => [...document.querySelectorAll('.shortcuts a')].map(link => {
  const text = document.createRange();
  text.selectNodeContents(link);
  return [link.textContent.trim(), new Set([...text.getClientRects()].map(r => r.top)).size];
})"""


@pytest.mark.parametrize("width", [360, 390])
def test_each_profile_shortcut_reads_on_one_line(page, member, console_errors, width):
    page.set_viewport_size({"width": width, "height": 844})
    sign_in(page)

    lines = dict(page.evaluate(LINES))
    assert "メインパスワードの編集" in lines
    assert all(count == 1 for count in lines.values()), lines
    assert console_errors == []


def test_the_links_under_a_form_are_a_thumb_high(page, live_server, console_errors):
    # 27 px under a 48 px button on the paused page, the sign-in's the same (helper-105).
    page.goto("/login/")
    heights = page.evaluate(
        "() => [...document.querySelectorAll('.links a')].map("
        "link => [link.textContent.trim(), link.getBoundingClientRect().height])"
    )
    assert [text for text, _height in heights] == [
        "こちらから新規登録",
        "パスワードを忘れましたか？",
        "パスキーでログイン",
    ]
    assert all(height >= 44 for _text, height in heights), heights
    assert console_errors == []


@pytest.mark.parametrize("path", ["/login/", "/backoffice/"])
def test_the_header_home_link_is_a_thumb_high(page, member, console_errors, path):
    # "Jenco" at the top left, the way home from every page, was 37 px high (helper-153).
    if path != "/login/":
        sign_in(page)
    page.goto(path)
    box = page.locator("a.brand").bounding_box()
    assert box["height"] >= 44 and box["width"] >= 44, box
    assert console_errors == []
