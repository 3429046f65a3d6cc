import secrets
import unicodedata


def four_digits():
    """django-simple-captcha challenge: four digits, as on the seed's sign-in screen."""
    answer = f"{secrets.randbelow(10_000):04d}"
    return answer, answer


def typed_answer(raw: str) -> str:
    """What a member typed, as the challenge's answer is stored: full-width digits from a
    Japanese keyboard (０２０７) are the digits they show, and surrounding spaces go."""
    return unicodedata.normalize("NFKC", raw).strip()
