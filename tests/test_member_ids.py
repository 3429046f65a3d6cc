"""Member IDs as members type them (DESIGN.md, "Member-ID input")."""

import unicodedata

from hypothesis import given
from hypothesis import strategies as st

from accounts.credentials import is_member_id, normalise_member_id

digits = st.text(alphabet="0123456789", min_size=7, max_size=7)
FULL_WIDTH = str.maketrans("JPNjpn0123456789", "ＪＰＮｊｐｎ０１２３４５６７８９")
separators = st.text(alphabet=" -\u3000－‐—\t", max_size=3)


@given(digits)
def test_a_canonical_id_stays_as_it_is(number):
    assert normalise_member_id("JPN" + number) == "JPN" + number


@given(digits, st.booleans(), st.lists(separators, min_size=4, max_size=4))
def test_case_width_spaces_and_hyphens_do_not_matter(number, full_width, seps):
    typed = seps[0] + "jPn" + seps[1] + number[:3] + seps[2] + number[3:] + seps[3]
    if full_width:
        typed = typed.translate(FULL_WIDTH)
    assert normalise_member_id(typed) == "JPN" + number


@given(st.text(max_size=40))
def test_normalising_is_idempotent_and_never_fails(text):
    once = normalise_member_id(text)
    assert normalise_member_id(once) == once


@given(st.text(max_size=40))
def test_only_jpn_and_seven_ascii_digits_are_valid(text):
    value = normalise_member_id(text)
    if is_member_id(value):
        assert len(value) == 10 and value[:3] == "JPN" and value[3:].isascii()
        assert value[3:].isdigit()


@given(st.text(alphabet=st.characters(categories=["Nd"]), min_size=7, max_size=7))
def test_digits_of_other_scripts_are_not_accepted_unless_nfkc_makes_them_ascii(number):
    value = normalise_member_id("JPN" + number)
    expected = unicodedata.normalize("NFKC", number).isascii()
    assert is_member_id(value) == expected


def test_examples_from_members():
    assert normalise_member_id("ＪＰＮ１２３４５６７") == "JPN1234567"
    assert normalise_member_id("jpn 1234567") == "JPN1234567"
    assert normalise_member_id("JPN-123-4567") == "JPN1234567"
    assert not is_member_id(normalise_member_id("JPN123456"))
    assert not is_member_id(normalise_member_id("JP1234567"))
    assert not is_member_id(normalise_member_id("JPN12345678"))
