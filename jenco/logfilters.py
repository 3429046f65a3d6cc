"""Emailed links carry secrets in their path; no log line may keep them (issue 12, finding 12).

A reset link (`/password/reset/<uidb64>/<token>/`, `/pin/reset/<uidb64>/<token>/`), an email
confirmation (`/backoffice/profile/email/confirm/<token>/`) or a registration link
(`/register/verify/<token>/`) in a log lets whoever reads the log use it. `redact` puts
`[redacted]` in place of the uid and token, also where a path stands URL-encoded in a query
string (the sign-in page's `?next=%2Fbackoffice%2Fprofile%2Femail%2Fconfirm%2F...`).
`RedactTokens` applies it to Django's log records; deploy/gunicorn.conf.py to the access log.
"""

import logging
import re
from urllib.parse import unquote

REDACTED = "[redacted]"

# A slash, plain, URL-encoded or encoded twice (a ?next= inside a ?next=).
_SLASH = r"(?:/|%2[Ff]|%252[Ff])"
# Everything after the link's prefix up to a space, query, fragment or quote: a hand-edited
# link (`/password/reset//NQ/...`, `/pin/reset/NQ;...`) has its secret somewhere in there too.
_REST = r"[^\s?#&\"']+"
# The pages a registration or email-confirmation link opens once its token has moved into
# the session (/register/verify/confirm/, /backoffice/profile/email/confirm/new-address/),
# and those a link that cannot be used leads to (/password/reset/link/unusable/,
# /register/verify/created/: accounts.links.UNUSABLE): fixed words, kept so the log tells
# the confirmations and the dead links apart from the links followed.
_FIXED = (
    rf"""(?:confirm|new-address|unusable|created|link{_SLASH}unusable)"""
    rf"""(?:{_SLASH})?(?:[\s?#&"']|$)"""
)
# Between the words, one slash or more: Django routes `/password//reset/...` nowhere, but
# logs it (Not Found) as asked, token and all (helper-109); nginx merges them before logging.
_SLASHES = rf"(?:{_SLASH})+"
_LINKS = re.compile(
    rf"""(?P<path>{_SLASH}(?:
            (?:password|pin){_SLASHES}reset
          | backoffice{_SLASHES}profile{_SLASHES}email{_SLASHES}confirm
          | register{_SLASHES}verify
          | email{_SLASHES}correct
        ){_SLASH})
        (?!{_FIXED})
        {_REST}
    """,
    re.VERBOSE | re.IGNORECASE,
)


# A word of a log line: a request line's path, a header's value.
_WORD = re.compile(r"""[^\s"']+""")


def redact(text: str) -> str:
    """`text` with the uid and token of every emailed link replaced by [redacted]: also in a
    link with letters of its path percent-encoded (`/%70assword/reset/...`), which the app
    decodes to the same page; such a word is logged decoded, its secret redacted."""
    text = _redacted(text)
    if "%" not in text:
        return text
    return _WORD.sub(_redact_encoded, text)


def _redacted(text: str) -> str:
    return _LINKS.sub(rf"\g<path>{REDACTED}", text)


def _redact_encoded(word: re.Match) -> str:
    decoded = unquote(unquote(word[0]))  # encoded twice: a ?next= inside a ?next=
    redacted = _redacted(decoded)
    return word[0] if redacted == decoded else redacted


# The most of a record's message a log keeps: a path or header sent 15,000 characters long
# ("Not Found: /login//bbbb…", a CSRF refusal's Origin) was logged whole, 30 times a second
# from one address under nginx's limit (helper-135).
MOST_LOGGED = 1000


class RedactTokens(logging.Filter):
    """A handler filter: the record's message, emailed links' secrets redacted, and cut to
    MOST_LOGGED characters (after the redaction, so a cut never leaves half a token)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = redact(message)
        if len(redacted) > MOST_LOGGED:
            redacted = redacted[:MOST_LOGGED] + "..."
        if redacted != message:
            record.msg, record.args = redacted, ()
        # An error report mailed to ADMINS prints the request: its URL, path and META hold
        # the token several times over. About such a URL the report goes without them.
        full_path = getattr(getattr(record, "request", None), "get_full_path", None)
        if full_path is not None and redact(full_path()) != full_path():
            record.request = None
        return True


class NoTracebackForRefusals(logging.Filter):
    """A logger filter for django.request: a request refused on purpose (403: a staff member
    opening a page their group may not, 404) keeps its one line, not the 40-line traceback of
    the PermissionDenied or Http404 behind it, which buried the real ones in an app server's
    log. A server error (500) keeps its traceback."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and getattr(record, "status_code", 500) < 500:
            record.exc_info = record.exc_text = None
        return True
