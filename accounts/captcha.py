import secrets


def four_digits():
    """django-simple-captcha challenge: four digits, as on the seed's sign-in screen."""
    answer = f"{secrets.randbelow(10_000):04d}"
    return answer, answer
