"""Japanese text on a phone: no paragraph, label or heading ends on a line of one or two
characters (helper-159 saw 「い。」 alone under 「…押してください」 at 375 px, on the forgot
pages, Security and the authenticator's set-up among others)."""

import pytest

from tests.e2e.test_billing_journey import sign_in
from tests.helpers import BACKOFFICE_PAGES

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

PUBLIC_PAGES = ["/login/", "/password/forgot/", "/pin/forgot/", "/register/"]
MEMBER_PAGES = [
    *BACKOFFICE_PAGES,
    "/backoffice/security/",
    "/backoffice/security/activity/",
    "/backoffice/security/two-step/authenticator/",
]

# Each block of text on the page whose last line holds one or two characters of several
# lines: its last characters, and how many are on that line.
SHORT_LAST_LINES = """() => {
  const short = [];
  const blocks = "main p, main li, main dd, main h1, main h2, main label, main legend";
  for (const block of document.querySelectorAll(blocks)) {
    if (!block.offsetParent || block.querySelector("p, li")) continue;
    const bottoms = [];
    const text = document.createTreeWalker(block, NodeFilter.SHOW_TEXT);
    for (let node = text.nextNode(); node; node = text.nextNode()) {
      for (let i = 0; i < node.length; i++) {
        if (/\\s/.test(node.data[i])) continue;
        const character = document.createRange();
        character.setStart(node, i);
        character.setEnd(node, i + 1);
        const box = character.getBoundingClientRect();
        if (box.width) bottoms.push(box.bottom);
      }
    }
    const last = Math.max(...bottoms);
    const onLast = bottoms.filter((bottom) => last - bottom < 6).length;
    if (onLast < bottoms.length && onLast <= 2) {
      short.push([block.textContent.trim().slice(-20), onLast]);
    }
  }
  return short;
}"""


@pytest.mark.parametrize("width", [360, 375, 390])
def test_no_line_of_text_ends_on_one_or_two_characters(page, member, console_errors, width):
    page.set_viewport_size({"width": width, "height": 844})
    short = {}
    for path in PUBLIC_PAGES:
        page.goto(path)
        short[path] = page.evaluate(SHORT_LAST_LINES)
    sign_in(page)
    for path in MEMBER_PAGES:
        page.goto(path)
        short[path] = page.evaluate(SHORT_LAST_LINES)

    assert {path: found for path, found in short.items() if found} == {}
    assert console_errors == []
