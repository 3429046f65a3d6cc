"""The sign-in page, blank or after a failed post: rendered once, filled in per request.

Every visitor's first request is GET /login/, and on migration day every member makes it
again and again. Rendering it through the template engine cost about four times what the
request's own work does (a captcha row, a CSRF token). What differs between two visitors'
blank pages is five strings: the CSRF token, the captcha key (in its image and audio URLs
too), the page to go to after sign-in, the page's own address (the language switch's `next`)
and the market ticker (backoffice.ticker.strip, a copy of its own). The page is rendered
once with a marker in place of each and kept as the text between the markers, keyed by
everything else it depends on: the language, the sign-in form's own words (its placeholder
changes when the default credentials stop working) and whether registration is open (its
link, JENCO_REGISTRATION_OPEN).

The page answering a failed sign-in post is served the same way when its errors read the
same for every post (a wrong password, an unknown ID, a wrong captcha: the commonest answers
there are, and the ones an attacker makes). Its errors' words and the state of the view-only
box go in the key, and the member ID as typed is one more marker (TYPED). Rendering it in
full made a failed sign-in cost more than a default-password one, which answers with a
redirect: the three must cost the same (issue 13).

A page with messages to show, or with an error whose words depend on the post, is rendered
in full, as is every other page. A signed-in visitor's page (a member posting the sign-in
form again) names them in its header: it is filled in but never kept. tests/test_cost.py
checks that a page served here is, byte for byte, the one the template gives. Whatever else
the template reads from the request would be frozen into the copy: a new dynamic part needs
a marker or a place in the key (`variant`), and a case in that test.
"""

import re
import threading
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.middleware.csrf import get_token
from django.template.loader import render_to_string
from django.utils.html import conditional_escape
from django.utils.translation import get_language

# Markers: letters and digits only, so escaping and URL reversing leave them whole.
CSRF, CAPTCHA, NEXT, HERE, TICKER, TYPED = (
    f"Zq9{name}Slot9qZ" for name in ("Csrf", "Captcha", "Next", "Here", "Ticker", "Typed")
)
_MARKERS = re.compile(f"({CSRF}|{CAPTCHA}|{NEXT}|{HERE}|{TICKER}|{TYPED})")

# The copies, oldest first. Their keys are made of fixed words (the errors quote nothing
# posted) and a few settings, a few hundred at most, so no visitor can push out another's.
_pages: dict[tuple, list[str]] = {}
_KEPT = 512
_lock = threading.Lock()


def _split(html: str) -> list[str]:
    """The page as [text, marker, text, marker, ..., text]."""
    return _MARKERS.split(html)


def fill_in(
    request: HttpRequest,
    template: str,
    context: Callable[[], dict],
    *,
    variant: tuple,
    values: dict[str, str],
) -> HttpResponse:
    """`template` as the template engine would render it for this request.

    `context()` gives the template's context, with markers (CAPTCHA, NEXT, TICKER) where the
    page shows what differs per request; `values` gives their real values for this request
    (escaped, unless marked safe: the ticker's HTML). `variant` is whatever else the page's
    text depends on.
    """
    key = (template, get_language(), variant)
    # A signed-in visitor's page shows who is signed in (the header): filled in the same way,
    # but never kept, and never served from another visitor's copy.
    signed_in = request.user.is_authenticated
    parts = None if signed_in else _pages.get(key)
    if parts is None:
        html = render_to_string(template, {**context(), "csrf_token": CSRF, "here": HERE}, request)
        parts = _split(html)
        if not signed_in:
            with _lock:
                if len(_pages) >= _KEPT:  # variants no longer served (a changed placeholder)
                    del _pages[next(iter(_pages))]
                _pages[key] = parts
    filled = {CSRF: get_token(request), HERE: request.get_full_path()} | values
    return HttpResponse("".join(conditional_escape(filled[p]) if p in filled else p for p in parts))


def forget() -> None:
    """Drop every copy: the next request for each page renders it again."""
    with _lock:
        _pages.clear()
