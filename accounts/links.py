"""The links we email, built in one place, and read back from a mail by tests and tools.

Every emailed link starts with SITE_URL (never the request's Host header) and holds a
secret in its path: reset links a token bound to the member's current secret, email-change
links and registration links a one-time token.
"""

import re

from django.conf import settings
from django.urls import reverse
from django.utils.encoding import force_bytes
from django.utils.http import urlencode, urlsafe_base64_encode

from accounts import credentials


def emailed(path: str) -> str:
    """The address of one of our pages as a mail gives it."""
    return settings.SITE_URL + path


def reset_path(kind, member) -> str:
    """The page that sets a new password or PIN (a flows.reset.ResetKind) for `member`: it
    works until that secret changes or the link's time runs out."""
    uidb64 = urlsafe_base64_encode(force_bytes(member.pk))
    return reverse(
        kind.url("reset"), kwargs={"uidb64": uidb64, "token": kind.token.make_token(member)}
    )


# Where an emailed link that cannot be used (made up, used, expired, replaced) leads: this
# word in its token's slot, a page with the site's own Referrer-Policy. Answered at the
# token's address (no-referrer), the page's forms (language switch, sign-out) were sent with
# "Origin: null" and refused by CSRF protection. A fixed address, and no session: made-up
# links start none (helper-132).
UNUSABLE = "unusable"


def unusable_reset_path(kind) -> str:
    """The page a reset link (a flows.reset.ResetKind) that cannot be used leads to: no
    member's uid in it either."""
    return reverse(kind.url("reset"), kwargs={"uidb64": "link", "token": UNUSABLE})


def email_change_path(nonce: str) -> str:
    return reverse(settings.JENCO_EMAIL_CHANGE_CONFIRM_URL, args=[nonce])


def email_correction_path(nonce: str) -> str:
    """A supervisor's email correction: confirmed signed out (accounts.views.email_correction)."""
    return reverse("accounts:email-correct", args=[nonce])


def registration_path(token: str) -> str:
    """The page that completes a registration (accounts.flows.registration)."""
    return reverse("accounts:register-verify", args=[token])


def login_path() -> str:
    return reverse("accounts:login")


def emailed_path(body: str, start: str = "/") -> str | None:
    """The path of the first link to this site in a mail's `body` whose path starts with
    `start` ("/pin/reset/"), or None."""
    for found in re.finditer(re.escape(settings.SITE_URL) + r"(/\S*/)", body):
        if found.group(1).startswith(start):
            return found.group(1)
    return None


def forgot_password_path(member_id: str = "") -> str:
    """ "Forgot password?" from a page that knows the member ID typed (the paused pages), with
    it in the fragment the forgot page fills its field from (static/js/jenco.js): a browser
    sends no fragment, so no server or log sees it. Only a well-formed ID goes along."""
    path = reverse("accounts:password-forgot")
    member_id = credentials.normalise_member_id(member_id or "")
    if not credentials.is_member_id(member_id):
        return path
    return f"{path}#{urlencode({'member_id': member_id})}"
