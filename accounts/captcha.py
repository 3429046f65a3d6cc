import re
import secrets
import unicodedata

from django.conf import settings
from django.core.cache import cache

from accounts.flows import SENT_TWICE


def four_digits():
    """django-simple-captcha challenge: four digits, as on the seed's sign-in screen."""
    answer = f"{secrets.randbelow(10_000):04d}"
    return answer, answer


def typed_answer(raw: str) -> str:
    """What a member typed, as the challenge's answer is stored: full-width digits from a
    Japanese keyboard (０２０７) are the digits they show, and surrounding spaces go."""
    return unicodedata.normalize("NFKC", raw).strip()


# --- One password check per answered picture ---------------------------------------------------
# Posts sent at once with one answered picture (a double tap, or a script racing guesses) all
# find it unused in the store until one of them writes its outcome. The first to claim it in
# the cache every app server shares goes on to check its password; the others check none and
# get the picture's error, whatever their password: one solved picture buys one guess, and the
# answers tell nothing of which guess was right. The claim holds the ID its post typed: a post
# with the same ID that finds it is the same form sent again while the first is checked (a
# double tap without JavaScript), told so, and counted as no failure. Once the claiming post
# has signed its member in, the claim says so for flows.SENT_TWICE, so the same form sent
# again afterwards goes on as it did.


_PICTURE_KEY = re.compile(r"[0-9a-f]{1,64}")


def _claim_key(key: str) -> str:
    return f"jenco:captcha-claim:{key}"


def claim_answer(key: str, member_id: str) -> bool:
    """Whether this post, typing `member_id`, is the first to bring the answered picture `key`."""
    return cache.add(_claim_key(key), member_id, timeout=settings.CAPTCHA_TIMEOUT * 60)


def note_sign_in(key: str, member_id: str, *, second_step: bool) -> None:
    """The post that claimed `key` signed `member_id` in (or on to the second step)."""
    marker = {"member": member_id, "second_step": second_step}
    cache.set(_claim_key(key), marker, timeout=int(SENT_TWICE.total_seconds()))


def claim_on(key: str) -> str | dict | None:
    """What the claim on `key` holds: the ID its post typed (while that post is checked, or
    once it failed), note_sign_in's marker within flows.SENT_TWICE of a sign-in, or None.
    `key` is as posted: anything but a picture's key (hexadecimal) was never claimed."""
    return cache.get(_claim_key(key)) if _PICTURE_KEY.fullmatch(key) else None
