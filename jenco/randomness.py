"""Random strings drawn in one read of the OS's randomness.

Django's get_random_string draws each character with its own call to the OS (secrets.choice:
one getrandom system call a character). A CSRF token is two strings of 32 (its secret and its
mask), so every sign-in page cost 64 system calls, about 0.1 ms of the page's 0.9 (issue 13).
random_string keeps the contract, each character uniform over `allowed_chars` from the same
source, and reads the bytes for each whole string at once (a CSRF token: two reads).
"""

import secrets

from django.utils.crypto import RANDOM_STRING_CHARS, get_random_string


def random_string(length: int, allowed_chars: str = RANDOM_STRING_CHARS) -> str:
    choices = len(allowed_chars)
    if not 0 < choices <= 256:
        return get_random_string(length, allowed_chars)
    # A byte is one of 256 values: taken modulo `choices`, the values from the last whole
    # multiple of `choices` up would make the first characters more likely. They are dropped
    # and more bytes read instead.
    usable = 256 - 256 % choices
    chars: list[str] = []
    while len(chars) < length:
        wanted = length - len(chars)
        chars += [allowed_chars[b % choices] for b in secrets.token_bytes(wanted + 8) if b < usable]
    return "".join(chars[:length])


def draw_csrf_tokens_at_once() -> None:
    """Django's CSRF middleware draws its secrets and masks with random_string (called once,
    from accounts.apps). If a later Django stops drawing them with get_random_string, this
    changes nothing and the tokens are Django's own."""
    from django.middleware import csrf

    if getattr(csrf, "get_random_string", None) is get_random_string:
        csrf.get_random_string = random_string
