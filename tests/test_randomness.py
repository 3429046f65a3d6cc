"""CSRF tokens drawn in one read of randomness (jenco/randomness.py), as good as Django's."""

import itertools
import re
import string
import types
from collections import Counter

import pytest
from django.middleware import csrf

from jenco import randomness
from jenco.randomness import random_string


def test_a_random_string_has_the_length_and_characters_asked_for():
    assert random_string(0) == ""
    for length in (1, 32, 500):
        drawn = random_string(length, "abc")
        assert len(drawn) == length
        assert set(drawn) <= set("abc")
    assert re.fullmatch(r"[A-Za-z0-9]{32}", random_string(32))


def test_no_character_is_likelier_than_another():
    # 256 % 200 = 56: a byte taken modulo 200 without dropping the last 56 values would make
    # each of the first 56 characters twice as likely as each of the other 144.
    alphabet = "".join(chr(0x4E00 + n) for n in range(200))
    counts = Counter(random_string(200_000, alphabet))
    first = sum(counts[c] for c in alphabet[:56]) / 56
    rest = sum(counts[c] for c in alphabet[56:]) / 144
    assert 0.95 < first / rest < 1.05
    assert len(counts) == 200


@pytest.mark.parametrize("size", range(1, 257))
def test_every_byte_value_gives_each_character_its_equal_share(monkeypatch, size):
    # Every byte value in turn, as many times over as it takes: each character of an
    # alphabet of any size from 1 to 256 comes out exactly as often as every other (a value
    # kept that should be dropped, or one dropped that should be kept, shows at once).
    stream = itertools.cycle(range(256))
    fake = types.SimpleNamespace(token_bytes=lambda n: bytes(next(stream) for _ in range(n)))
    monkeypatch.setattr(randomness, "secrets", fake)
    alphabet = "".join(chr(0x4E00 + n) for n in range(size))
    usable = 256 - 256 % size
    counts = Counter(random_string(3 * usable, alphabet))
    assert counts == dict.fromkeys(alphabet, 3 * usable // size)


def test_an_alphabet_of_more_than_256_characters_is_drawn_by_django():
    alphabet = "".join(chr(0x4E00 + n) for n in range(300))
    drawn = random_string(50, alphabet)
    assert len(drawn) == 50 and set(drawn) <= set(alphabet)


def test_two_draws_differ():
    assert len({random_string(32) for _ in range(1000)}) == 1000


def test_csrf_tokens_are_drawn_with_it_and_still_protect_the_forms(client, db):
    assert csrf.get_random_string is random_string
    page = client.get("/login/")
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.content.decode())[1]
    secret = client.cookies["csrftoken"].value
    assert re.fullmatch(rf"[{string.ascii_letters}{string.digits}]{{64}}", token)
    assert re.fullmatch(rf"[{string.ascii_letters}{string.digits}]{{32}}", secret)
    # The token is the secret, masked: Django unmasks it to the cookie's secret.
    assert csrf._unmask_cipher_token(token) == secret
