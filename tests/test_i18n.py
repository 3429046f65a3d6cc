"""Both languages stay complete: catalogues, pages, the language switch and the emails.

Japanese is the default and English the alternative (DESIGN: "Everything a member reads exists
in Japanese and English"). These tests fail when a string is marked in code but missing from
the catalogue, when a Japanese page shows an English sentence (or the reverse), when the
language switch loses the member's page or choice, or when an email ignores its recipient.
"""

import re
import shutil
from contextlib import chdir
from pathlib import Path

import polib
import pytest
from django.conf import settings
from django.core.management import call_command
from django.test import override_settings


def committed(language: str) -> polib.POFile:
    return polib.pofile(
        str(Path(settings.BASE_DIR, "locale", language, "LC_MESSAGES", "django.po"))
    )


# --- 1. The catalogues hold exactly the strings marked in code ------------------------------

# What `make messages` leaves out, plus what holds no source of ours.
IGNORED = [".venv", "tests", "bench", "tools"]
NOT_SOURCE = {"__pycache__", "node_modules", "staticfiles", "var", "screenshots"}
SOURCE_SUFFIXES = {".py", ".html", ".txt", ".po"}  # makemessages' own extensions, and catalogues


def _sources_only(folder: str, names: list[str]) -> list[str]:
    skipped = []
    for name in names:
        path = Path(folder, name)
        if path.is_dir():
            hidden_or_ignored = name.startswith(".") or name in IGNORED or name in NOT_SOURCE
            if hidden_or_ignored or name.endswith(".egg-info"):
                skipped.append(name)
        elif path.suffix not in SOURCE_SUFFIXES:
            skipped.append(name)
    return skipped


@pytest.fixture(scope="module")
def regenerated(tmp_path_factory) -> dict[str, polib.POFile]:
    """The catalogues `make messages` would write, made from a copy of the project.

    makemessages walks the current folder, writes `<template>.py` files beside the templates
    while it works and rewrites the catalogues of the first `locale/` folder it meets: run in a
    copy, so the real locale/ and templates/ are never touched.
    """
    copy = tmp_path_factory.mktemp("project")
    shutil.copytree(settings.BASE_DIR, copy, ignore=_sources_only, dirs_exist_ok=True)
    with override_settings(LOCALE_PATHS=[copy / "locale"]), chdir(copy):
        call_command(
            "makemessages",
            locale=[code for code, _ in settings.LANGUAGES],
            ignore_patterns=IGNORED,
            no_obsolete=True,
            verbosity=0,
        )
    return {
        code: polib.pofile(str(copy / "locale" / code / "LC_MESSAGES" / "django.po"))
        for code, _ in settings.LANGUAGES
    }


def _msgids(catalogue: polib.POFile) -> set[tuple[str, str, str]]:
    return {
        (entry.msgctxt or "", entry.msgid, entry.msgid_plural or "")
        for entry in catalogue
        if not entry.obsolete
    }


def _listed(keys) -> str:
    return "\n".join(
        f"  {msgid!r}" + (f" (context {ctx!r})" if ctx else "") for ctx, msgid, _ in sorted(keys)
    )


@pytest.mark.parametrize("language", ["ja", "en"])
def test_the_catalogue_holds_every_string_marked_in_code_and_no_other(regenerated, language):
    in_catalogue = _msgids(committed(language))
    marked = _msgids(regenerated[language])
    missing, unused = marked - in_catalogue, in_catalogue - marked
    assert not missing and not unused, (
        f"locale/{language}/LC_MESSAGES/django.po is out of date: run `make messages` and "
        f"translate.\nmakemessages would add:\n{_listed(missing) or '  nothing'}\n"
        f"makemessages would remove:\n{_listed(unused) or '  nothing'}"
    )


# --- 2. Every Japanese entry is translated, and keeps its placeholders ----------------------

PLACEHOLDER = re.compile(
    r"%(?:\((?P<name>[^)]*)\))?[#0 +-]*(?:\d+|\*)?(?:\.\d+)?[diouxXeEfFgGcrsa]"
)


def _placeholders(text: str) -> list[str]:
    text = text.replace("%%", "")
    return sorted(
        match["name"] if match["name"] is not None else match[0]
        for match in PLACEHOLDER.finditer(text)
    )


def test_every_japanese_entry_is_translated_and_not_fuzzy():
    catalogue = committed("ja")
    problems = []
    for entry in catalogue:
        if entry.obsolete:
            continue
        translations = list(entry.msgstr_plural.values()) if entry.msgid_plural else [entry.msgstr]
        if not all(text.strip() for text in translations):
            problems.append(f"untranslated: {entry.msgid!r}")
        if "fuzzy" in entry.flags:
            problems.append(
                f"fuzzy (needs a translator's check): {entry.msgid!r} -> {entry.msgstr!r}"
            )
    assert not problems, "locale/ja/LC_MESSAGES/django.po:\n" + "\n".join(problems)


def test_japanese_translations_keep_the_placeholders_of_the_english():
    catalogue = committed("ja")
    problems = []
    for entry in catalogue:
        if entry.obsolete or ("python-format" not in entry.flags and "%(" not in entry.msgid):
            continue
        expected = _placeholders(entry.msgid)
        translations = list(entry.msgstr_plural.values()) if entry.msgid_plural else [entry.msgstr]
        for text in translations:
            if text and _placeholders(text) != expected:
                problems.append(
                    f"{entry.msgid!r}: expects {expected}, has {_placeholders(text)} in {text!r}"
                )
    assert not problems, "locale/ja/LC_MESSAGES/django.po:\n" + "\n".join(problems)
