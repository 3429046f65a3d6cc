import ast
import io
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.contrib.auth.hashers import make_password
from django.core.management import CommandError, ManagementUtility, call_command
from django.utils import translation

from accounts import ja_import
from accounts.models import Member
from tests.helpers import PASSWORD, solved_captcha

pytestmark = pytest.mark.django_db

HEADER = "member_id,name,email,id_document_number,preferred_language\n"


@dataclass
class Run:
    out: str
    err: str
    error: str | None  # the CommandError's message: manage.py would exit with status 1

    @property
    def failed(self) -> bool:
        return self.error is not None


def write(tmp_path, text: str, encoding="utf-8", name="members.csv"):
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


def run_import(path, *options, stderr=None) -> Run:
    out, err = io.StringIO(), stderr or io.StringIO()
    error = None
    # The operator's language is Japanese by default; these tests read the English source.
    with translation.override("en"):
        try:
            call_command("import_ja_members", str(path), *options, stdout=out, stderr=err)
        except CommandError as e:
            error = str(e)
        except SystemExit:  # rows rejected, the rest imported: the last line says so
            error = err.getvalue().strip().splitlines()[-1]
    return Run(out.getvalue(), err.getvalue(), error)


def members() -> dict[str, Member]:
    return {m.member_id: m for m in Member.objects.all()}


# --- Reading the file -----------------------------------------------------------------------


def test_it_imports_members_on_the_published_defaults(tmp_path):
    path = write(
        tmp_path,
        HEADER
        + "JPN3000001,山田 太郎,taro@example.com,AB1234567,ja\n"
        + "JPN3000002,Alice Smith,alice@example.com,,en\n",
    )
    run = run_import(path)

    assert not run.failed
    assert "Created: 2" in run.out
    taro = Member.objects.get(member_id="JPN3000001")
    assert (taro.name, taro.email, taro.id_document_number) == (
        "山田 太郎",
        "taro@example.com",
        "AB1234567",
    )
    assert taro.origin == Member.Origin.JA and taro.imported_at is not None
    assert taro.on_default_password and taro.on_default_pin
    assert not taro.has_usable_password()
    assert Member.objects.get(member_id="JPN3000002").preferred_language == "en"


def test_it_reads_utf8_with_a_bom(tmp_path):
    path = write(tmp_path, HEADER + "JPN3000001,山田 太郎,taro@example.com,,\n", "utf-8-sig")
    run = run_import(path)

    assert not run.failed
    assert Member.objects.get(member_id="JPN3000001").name == "山田 太郎"


def test_it_reads_cp932_as_excel_in_japan_saves_it(tmp_path):
    # 髙 is one of the characters CP932 has and plain Shift_JIS lacks; Excel writes CRLF. The
    # ideographic space between family and given name is kept: it is no invisible character.
    text = (
        HEADER
        + "JPN3000001,髙橋\u3000一郎,ichiro@example.com,,\nJPN3000002,佐藤 花子,h@example.com,,\n"
    )
    run = run_import(write(tmp_path, text.replace("\n", "\r\n"), "cp932"))

    assert not run.failed
    assert "cp932" in run.out
    assert [m.name for m in Member.objects.order_by("member_id")] == ["髙橋\u3000一郎", "佐藤 花子"]


def test_a_cp932_gaiji_in_a_name_is_kept(tmp_path):
    """The JA system's own character for a rare kanji (CP932's user-defined area) reads as a
    private-use character: no invisible character, so the member comes in with it."""
    text = HEADER + "JPN3000001,山田 太郎,taro@example.com,,\n"
    data = text.encode("cp932").replace("山".encode("cp932"), b"\xf0\x40")
    path = tmp_path / "members.csv"
    path.write_bytes(data)
    run = run_import(path, "--encoding", "cp932")

    assert not run.failed, run.err
    assert Member.objects.get().name == "\ue000田 太郎"


def test_the_encoding_can_be_named(tmp_path):
    path = write(tmp_path, HEADER + "JPN3000001,山田 太郎,taro@example.com,,\n", "cp932")
    run = run_import(path, "--encoding", "cp932")

    assert not run.failed
    assert Member.objects.get().name == "山田 太郎"


def test_a_named_encoding_that_does_not_fit_imports_nothing(tmp_path):
    path = write(tmp_path, HEADER + "JPN3000001,山田 太郎,taro@example.com,,\n", "cp932")
    run = run_import(path, "--encoding", "utf-8")

    # Where, and what to do (helper-117: it named neither).
    assert run.error == (
        f"{path}, line 2: byte 0x8e is not utf-8 text. Name the file's own encoding with "
        "--encoding, or leave it out (UTF-8 and CP932 are recognised)."
    )
    assert not Member.objects.exists()


def test_a_file_that_is_neither_utf8_nor_cp932_imports_nothing(tmp_path):
    path = tmp_path / "members.csv"
    # A good row first: the whole file is checked before anything is written.
    path.write_bytes(
        HEADER.encode()
        + b"JPN3000001,Taro,taro@example.com,,\nJPN3000002,\x85\x40,h@example.com,,\n"
    )
    run = run_import(path)

    assert "neither UTF-8 nor CP932" in run.error
    assert not Member.objects.exists()


@pytest.mark.parametrize(
    "stray, byte",
    [
        (b"\xff", "0xff"),  # CP932 would read it as a private-use character
        (b"\xb6", "0xb6"),  # a half-width ｶ in CP932
        (b"Ren\xe9e", "0xe9"),  # Latin-1 é: CP932 would read é and e as one kanji
    ],
)
def test_a_utf8_file_with_a_stray_byte_names_the_line_and_the_byte_and_imports_nothing(
    tmp_path, stray, byte
):
    # Read as CP932 the whole file decodes, and 田中 would be imported as 逕ｰ荳ｭ.
    path = tmp_path / "members.csv"
    path.write_bytes(
        HEADER.encode()
        + "JPN3000001,田中,tanaka@example.com,,\n".encode()
        + (b"JPN3000002," + stray + b",r@example.com,,\n")
        + "JPN3000003,佐藤 花子,hanako@example.com,,\n".encode()
    )
    run = run_import(path)

    assert f"line 3: byte {byte} is not UTF-8" in run.error
    assert "it was not read as CP932" in run.error
    assert not Member.objects.exists()


def test_a_stray_byte_is_named_on_the_line_an_editor_shows_after_lone_carriage_returns(
    tmp_path,
):
    path = tmp_path / "members.csv"
    path.write_bytes(
        HEADER.encode()
        + "JPN3000001,田中,tanaka@example.com,,\r".encode()
        + b"JPN3000002,\xff,r@example.com,,\r"
    )
    assert "line 3: byte 0xff is not UTF-8" in run_import(path).error


def test_cp932_with_windows_characters_and_half_width_kana_is_still_read_as_cp932(tmp_path):
    # Two half-width kana in CP932 can look like UTF-8 by accident: ﾅｶ is a valid sequence.
    text = HEADER + "JPN3000001,髙橋,①@example.com,,\nJPN3000002,ﾀﾅｶ ﾀﾛｳ,t@example.com,,\n"
    run = run_import(write(tmp_path, text, "cp932"))

    assert "cp932" in run.out
    assert [m.name for m in Member.objects.order_by("member_id")] == ["髙橋", "ﾀﾅｶ ﾀﾛｳ"]


def test_a_field_too_long_for_csv_stops_the_import_naming_the_line(tmp_path):
    # Python's csv refuses a field over 131,072 characters: a quote left open does that.
    path = write(
        tmp_path,
        HEADER
        + "JPN3000001,Taro,taro@example.com,,\n"
        + 'JPN3000002,"Hanako,h@example.com,,\n'
        + "JPN3000003,Jiro,jiro@example.com,,\n" * 5000,
    )
    run = run_import(path)

    assert "line 3: this is not CSV that can be read" in run.error
    assert "field larger than field limit" in run.error
    assert not Member.objects.exists()


def test_a_csv_error_in_japanese_is_a_message_not_a_crash(tmp_path):
    path = write(tmp_path, HEADER + "JPN3000001," + "x" * 131_073 + ",taro@example.com,,\n")
    out, err = io.StringIO(), io.StringIO()
    with translation.override("ja"), pytest.raises(CommandError) as error:
        call_command("import_ja_members", str(path), stdout=out, stderr=err)

    assert "2 行目" in str(error.value)
    assert not Member.objects.exists()


def test_an_unknown_encoding_is_named_in_the_error(tmp_path):
    path = write(tmp_path, HEADER)
    assert run_import(path, "--encoding", "klingon").error == "Unknown encoding: klingon."


def test_a_missing_file_is_a_clear_error(tmp_path):
    run = run_import(tmp_path / "nope.csv")
    assert run.error == f"There is no file {tmp_path / 'nope.csv'}."


def test_a_missing_file_is_said_in_one_language(tmp_path):
    # The system's "No such file or directory" used to stand inside the Japanese sentence.
    with translation.override("ja"), pytest.raises(CommandError) as error:
        call_command("import_ja_members", str(tmp_path / "nope.csv"), stdout=io.StringIO())
    assert str(error.value) == f"{tmp_path / 'nope.csv'} というファイルはありません。"


def test_a_folder_is_not_a_file(tmp_path):
    assert run_import(tmp_path).error == f"{tmp_path} is a folder, not a file."


@pytest.mark.parametrize(("encoding", "said"), [("utf-8", "UTF-8 "), ("utf-8-sig", "UTF-8 (BOM)")])
def test_it_says_whether_the_utf8_file_has_a_bom(tmp_path, encoding, said):
    run = run_import(
        write(tmp_path, HEADER + "JPN3000001,山田 太郎,taro@example.com,,\n", encoding)
    )
    assert f"as {said}" in run.out and "utf-8-sig" not in run.out


def test_rejected_rows_end_with_a_warning_not_a_crash(tmp_path, capsys):
    text = HEADER + "JPN3000001,山田 太郎,taro@example.com,,\nJPN12,x,x@example.com,,\n"
    with translation.override("en"), pytest.raises(SystemExit) as exit:
        call_command("import_ja_members", str(write(tmp_path, text)))
    assert exit.value.code == 1
    err = capsys.readouterr().err
    assert "Rows rejected: 1" in err and "CommandError" not in err
    assert Member.objects.filter(member_id="JPN3000001").exists()


def test_a_header_without_the_required_columns_imports_nothing(tmp_path):
    path = write(tmp_path, "id,name,mail\nJPN3000001,Taro,taro@example.com\n")
    run = run_import(path)

    assert "Missing: member_id, email" in run.error
    # The file named, and its encoding as the rest of the output says it (not "utf-8-sig").
    assert run.error.startswith(f"{path}: the first line must name the columns")
    assert run.error.endswith("The file was read as UTF-8.")
    assert not Member.objects.exists()


def test_header_names_match_in_any_order_and_case_and_other_columns_are_ignored(tmp_path):
    path = write(tmp_path, " Email ,Note,NAME,Member_ID\ntaro@example.com,VIP,Taro,JPN3000001\n")
    run = run_import(path)

    assert not run.failed
    taro = Member.objects.get()
    assert (taro.member_id, taro.name, taro.email) == ("JPN3000001", "Taro", "taro@example.com")


def test_ids_and_emails_are_normalised(tmp_path):
    path = write(
        tmp_path,
        HEADER
        + "ＪＰＮ３０００００１,全角,ＴＡＲＯ＠Example.COM,,\n"
        + " jpn-300 0002 ,Spaced,Hanako@Example.com ,,EN\n",
    )
    run = run_import(path)

    assert not run.failed
    assert members()["JPN3000001"].email == "taro@example.com"
    assert members()["JPN3000002"].email == "hanako@example.com"
    assert members()["JPN3000002"].preferred_language == "en"


def test_blank_lines_are_skipped_and_lines_still_counted(tmp_path):
    path = write(
        tmp_path, HEADER + "\nJPN3000001,Taro,taro@example.com,,\n,,,,\nJPN30,X,x@example.com,,\n"
    )
    run = run_import(path)

    assert "Line 5: Member ID “JPN30” is not JPN followed by 7 digits." in run.err
    assert "Rejected: 1" in run.out
    assert list(members()) == ["JPN3000001"]


# --- Bad rows -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "row, reason",
    [
        ("ABC123,Taro,taro@example.com,,", "Member ID “ABC123” is not JPN followed by 7 digits."),
        (
            "JPN12345,Taro,taro@example.com,,",
            "Member ID “JPN12345” is not JPN followed by 7 digits.",
        ),
        (",Taro,taro@example.com,,", "Member ID “” is not JPN followed by 7 digits."),
        ("JPN3000009,Taro,taro.example.com,,", "Email address “taro.example.com” is not valid."),
        ("JPN3000009,Taro,taro@,,", "Email address “taro@” is not valid."),
        # Shown escaped: the override would turn the operator's line around.
        (
            "JPN3000009,Taro,taro@exa\u202emple.com,,",
            "Email address “taro@exa\\u202emple.com” is not valid.",
        ),
        ("JPN3000009,Taro,,,", "The email address is empty."),
        ("JPN3000009,Taro,taro@example.com,,fr", "Preferred language “fr” is not ja or en"),
        ("JPN3000009," + "名" * 151 + ",taro@example.com,,", "The name is longer than 150"),
        ("JPN3000009,Ta\x00ro,taro@example.com,,", "The name contains control characters."),
        # Invisible in the file and in every email's greeting; admin refuses it once edited.
        (
            "JPN3000009,Ta\u200bro,taro@example.com,,",
            "The name “Ta\\u200bro” has an invisible character (U+200B ZERO WIDTH SPACE)",
        ),
        (
            "JPN3000009,\u202eoraT,taro@example.com,,",
            "The name “\\u202eoraT” has an invisible character (U+202E RIGHT-TO-LEFT OVERRIDE)",
        ),
        ("JPN3000009,Taro,taro@example.com,AB\x1b12,", "The id_document_number contains control"),
    ],
)
def test_a_bad_row_is_reported_with_its_line_and_the_good_rows_are_imported(tmp_path, row, reason):
    path = write(
        tmp_path,
        HEADER + f"JPN3000001,Taro,taro@example.com,,\n{row}\nJPN3000002,Hanako,h@example.com,,\n",
    )
    run = run_import(path)

    assert f"Line 3: {reason}" in run.err
    assert "Created: 2" in run.out and "Rejected: 1" in run.out
    assert run.error == "Rows rejected: 1 (listed above). The other rows were imported."
    assert sorted(members()) == ["JPN3000001", "JPN3000002"]


def test_a_ragged_row_is_rejected(tmp_path):
    path = write(
        tmp_path,
        HEADER
        + "JPN3000001,Taro,taro@example.com\n"
        + "JPN3000002,Hanako,h@example.com,,ja,extra\n"
        + "JPN3000003,Jiro,jiro@example.com,,\n",
    )
    run = run_import(path)

    assert "Line 2: The row has 3 fields but the header has 5." in run.err
    assert "Line 3: The row has 6 fields but the header has 5." in run.err
    assert list(members()) == ["JPN3000003"]
    assert run.failed


def test_a_quote_left_open_is_named_as_the_reason_a_row_is_short(tmp_path):
    path = write(
        tmp_path,
        HEADER + 'JPN3000001,"Taro,taro@example.com,,\nJPN3000002,Hanako,h@example.com,,\n',
    )
    run = run_import(path)

    assert "Line 2: The row has 2 fields but the header has 5: a quote on this line" in run.err
    # Nothing was imported, and the last line does not say the other rows were.
    assert run.error == "Rows rejected: 1 (listed above). No row was imported."
    assert not Member.objects.exists()


def test_a_duplicate_id_names_the_earlier_line_and_the_first_row_wins(tmp_path):
    path = write(
        tmp_path,
        HEADER
        + "JPN3000001,First,first@example.com,,\n"
        + "JPN3000002,Other,other@example.com,,\n"
        + "ＪＰＮ３０００００１,Second,second@example.com,,\n",
    )
    run = run_import(path)

    assert "Line 4: Member ID JPN3000001 is already on line 2." in run.err
    assert members()["JPN3000001"].name == "First"
    assert Member.objects.count() == 2
    assert run.failed


def test_gettext_is_never_shadowed_in_the_importer():
    # `_` used as a throwaway variable turned every CSV error into "'int' object is not
    # callable"; ruff does not see it, this does.
    from accounts.management.commands import import_ja_members

    for module in (ja_import, import_ja_members):
        tree = ast.parse(Path(module.__file__).read_text())
        assigned = [
            node.lineno
            for node in ast.walk(tree)
            if isinstance(node, ast.Name) and node.id == "_" and isinstance(node.ctx, ast.Store)
        ]
        assert assigned == [], module.__name__


def test_a_rejected_row_does_not_claim_its_id_so_a_later_good_row_is_imported(tmp_path):
    path = write(
        tmp_path,
        HEADER
        + "JPN3000001,First,not-an-email,,\n"
        + "JPN3000001,Second,second@example.com,,\n"
        + "JPN3000001,Third,third@example.com,,\n",
    )
    run = run_import(path)

    assert "Line 2: Email address “not-an-email” is not valid." in run.err
    assert "Line 3" not in run.err
    assert "Line 4: Member ID JPN3000001 is already on line 3." in run.err
    assert members()["JPN3000001"].name == "Second"
    assert "Created: 1" in run.out and "Rejected: 2" in run.out


def test_line_numbers_are_the_files_lines_even_after_a_name_on_two_lines(tmp_path):
    path = write(
        tmp_path, HEADER + 'JPN3000001,"Taro\nYamada",taro@example.com,,\nJPN3000002,X,bad,,\n'
    )
    run = run_import(path)

    assert "Line 4: Email address “bad” is not valid." in run.err
    assert members()["JPN3000001"].name == "Taro Yamada"  # the cell's line break is a space


def test_any_rejected_row_makes_manage_py_exit_with_status_1(tmp_path, capsys):
    path = write(tmp_path, HEADER + "JPN3000001,Taro,taro@example.com,,\nbad,X,x@example.com,,\n")
    with translation.override("en"), pytest.raises(SystemExit) as exit:
        ManagementUtility(["manage.py", "import_ja_members", str(path)]).execute()

    # No database query after this: manage.py closes the connections on its way out.
    assert exit.value.code == 1
    assert "Rows rejected: 1" in capsys.readouterr().err


def test_a_clean_file_exits_with_status_0(tmp_path, capsys):
    path = write(tmp_path, HEADER + "JPN3000001,Taro,taro@example.com,,\n")
    with translation.override("en"):
        ManagementUtility(["manage.py", "import_ja_members", str(path)]).execute()

    assert "Created: 1" in capsys.readouterr().out


# --- Running again --------------------------------------------------------------------------

ROWS = HEADER + "JPN3000001,Taro,taro@example.com,,\nJPN3000002,Hanako,h@example.com,X99,en\n"


def test_running_twice_creates_no_duplicates(tmp_path):
    path = write(tmp_path, ROWS)
    first, second = run_import(path), run_import(path)

    assert "Created: 2" in first.out
    assert "Created: 0" in second.out and "Updated: 0" in second.out
    assert "Unchanged: 2" in second.out and "already up to date: 2" in second.out
    assert Member.objects.count() == 2


def test_a_re_import_updates_a_member_still_on_both_defaults(tmp_path):
    run_import(write(tmp_path, ROWS))
    imported_at = members()["JPN3000001"].imported_at
    run = run_import(
        write(tmp_path, HEADER + "JPN3000001,Taro Yamada,new@example.com,AB1,en\n", name="2.csv")
    )

    assert "Updated: 1" in run.out
    taro = members()["JPN3000001"]
    assert (taro.name, taro.email, taro.id_document_number, taro.preferred_language) == (
        "Taro Yamada",
        "new@example.com",
        "AB1",
        "en",
    )
    assert taro.imported_at == imported_at
    assert taro.on_default_password and taro.on_default_pin


@pytest.mark.parametrize(
    "changed",
    [
        {"on_default_pin": False, "pin": make_password("482916")},
        {"on_default_password": False, "on_default_pin": False, "password": make_password("x")},
        {"on_default_password": False, "password": make_password("x")},
    ],
)
def test_a_member_who_changed_a_credential_is_left_alone(tmp_path, migrated_member, changed):
    Member.objects.filter(pk=migrated_member.pk).update(**changed)
    before = Member.objects.get(pk=migrated_member.pk)
    path = write(tmp_path, HEADER + "JPN2000001,Someone Else,else@example.com,Z0,en\n")
    run = run_import(path)

    after = Member.objects.get(pk=migrated_member.pk)
    for field in ["name", "email", "id_document_number", "preferred_language", "password", "pin"]:
        assert getattr(after, field) == getattr(before, field)
    assert (after.on_default_password, after.on_default_pin) == (
        before.on_default_password,
        before.on_default_pin,
    )
    assert "Unchanged: 1" in run.out
    assert "skipped, already changed their PIN or password: 1" in run.out
    assert not run.failed


def test_a_member_who_did_not_come_from_ja_is_left_alone(tmp_path, member):
    path = write(tmp_path, HEADER + "JPN1000001,Someone Else,else@example.com,,\n")
    run = run_import(path)

    member.refresh_from_db()
    assert (member.name, member.email, member.origin) == ("山田 太郎", "taro@example.com", "staff")
    assert member.check_password(PASSWORD)
    assert "skipped, not a JA member: 1" in run.out


def test_a_dry_run_reports_and_writes_nothing(tmp_path, migrated_member):
    path = write(
        tmp_path,
        HEADER
        + "JPN3000001,Taro,taro@example.com,,\n"
        + "JPN2000001,New Name,new@example.com,,\n"
        + "bad,X,x@example.com,,\n",
    )
    run = run_import(path, "--dry-run")

    assert "Dry run: nothing was written." in run.out
    assert "Created: 1" in run.out and "Updated: 1" in run.out and "Rejected: 1" in run.out
    assert run.error == "Rows that would be rejected: 1 (listed above)."
    assert list(members()) == ["JPN2000001"]
    assert members()["JPN2000001"].name == "佐藤 花子"


# --- Batches --------------------------------------------------------------------------------


def test_rows_are_saved_in_batches_and_the_last_short_batch_too(tmp_path, monkeypatch):
    monkeypatch.setattr(ja_import, "BATCH_SIZE", 2)
    rows = "".join(f"JPN300000{i},M{i},m{i}@example.com,,\n" for i in range(1, 6))
    run = run_import(write(tmp_path, HEADER + rows))

    assert "Created: 5" in run.out
    assert Member.objects.count() == 5


def test_a_crash_midway_leaves_whole_batches(tmp_path, monkeypatch):
    monkeypatch.setattr(ja_import, "BATCH_SIZE", 2)
    real_bulk_update = Member.objects.bulk_update
    calls = []

    def crash_on_second_batch(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("disk full")
        return real_bulk_update(*args, **kwargs)

    monkeypatch.setattr(Member.objects, "bulk_update", crash_on_second_batch)
    rows = "".join(f"JPN300000{i},M{i},m{i}@example.com,,\n" for i in range(1, 6))
    with pytest.raises(RuntimeError):
        run_import(write(tmp_path, HEADER + rows))

    assert sorted(members()) == ["JPN3000001", "JPN3000002"]


# --- Progress -------------------------------------------------------------------------------


class Terminal(io.StringIO):
    def isatty(self):
        return True


def test_there_is_no_progress_bar_when_stderr_is_not_a_terminal(tmp_path, capsys):
    run = run_import(write(tmp_path, ROWS))

    assert run.err == ""
    assert capsys.readouterr().err == ""


def test_a_terminal_gets_a_progress_bar(tmp_path, capsys):
    run_import(write(tmp_path, ROWS), stderr=Terminal())

    assert "2/2" in capsys.readouterr().err


# --- Signing in afterwards ------------------------------------------------------------------


@pytest.mark.parametrize("password", ["jenco@12345", "Jenco@12345"])
def test_an_imported_member_signs_in_with_a_default_password_and_is_asked_for_the_mailbox_code(
    tmp_path, client, password
):
    run_import(write(tmp_path, HEADER + "ＪＰＮ３０００００１,山田 太郎,taro@example.com,,\n"))

    response = client.post(
        "/login/", {"username": "JPN3000001", "password": password, **solved_captcha()}
    )
    assert response["Location"] == "/backoffice/"
    assert client.get("/backoffice/")["Location"] == "/backoffice/first-sign-in/mailbox/"
    assert 'name="code"' in client.get("/backoffice/first-sign-in/mailbox/").content.decode()


def test_an_imported_member_cannot_sign_in_with_another_password(tmp_path, client):
    run_import(write(tmp_path, HEADER + "JPN3000001,山田 太郎,taro@example.com,,\n"))

    response = client.post(
        "/login/", {"username": "JPN3000001", "password": "jenco@123456", **solved_captcha()}
    )
    assert response.status_code == 200
    assert "_auth_user_id" not in client.session


def test_every_invisible_character_in_a_name_is_named_once(tmp_path):
    path = write(tmp_path, HEADER + "JPN3000001,\u200bTa\u200bro\ufeff,taro@example.com,,\n")
    run = run_import(path)
    assert (
        "has invisible characters (U+200B ZERO WIDTH SPACE, U+FEFF ZERO WIDTH NO-BREAK SPACE)"
        in run.err
    )
    assert "Excel does not show them" in run.err


def test_the_report_is_in_the_language_asked_for_and_else_the_sites(tmp_path):
    path = write(tmp_path, ROWS)
    english, japanese = io.StringIO(), io.StringIO()
    call_command("import_ja_members", str(path), "--dry-run", "--language", "en", stdout=english)
    call_command("import_ja_members", str(path), "--dry-run", stdout=japanese)

    assert "Created: 2" in english.getvalue()
    assert "新規登録：2" in japanese.getvalue()
