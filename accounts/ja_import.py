"""Members from a JA export (CSV): check every row, then create or update them in batches.

`scan` reads the whole file once before anything is written: the encoding, the header and
the CSV structure are known to be good, or nothing is imported at all. `import_members` then
streams the rows, rejects the bad ones with their line number and saves the good ones in
batches, one transaction each, so a crash midway leaves whole batches behind.

Re-importing is safe: a member already in the database is updated only while they are still
a JA member on both published defaults. Once they have changed their PIN or password, the
account is theirs and the import leaves it alone.
"""

import codecs
import csv
import re
import unicodedata
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from django.core.exceptions import ValidationError
from django.db import connections, router, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from accounts import credentials
from accounts.ja_accounts import ja_member
from accounts.models import Member

REQUIRED_COLUMNS = ("member_id", "name", "email")
OPTIONAL_COLUMNS = ("id_document_number", "preferred_language")
# What an operator's file is likely to be: UTF-8 (Excel adds a BOM), else what Excel in
# Japan writes by default. CP932 rather than shift_jis: it has the characters Windows adds,
# such as 髙 and ①, which turn up in names and addresses.
AUTO_ENCODINGS = ("utf-8-sig", "cp932")
BATCH_SIZE = 2000
# What a re-import may still change on a member who has not touched their account.
UPDATABLE_FIELDS = ("name", "email", "id_document_number", "preferred_language")
LANGUAGES = {choice.value for choice in Member.Language}


class ImportFileError(Exception):
    """The file as a whole cannot be imported (encoding, header, CSV structure)."""


@dataclass(frozen=True)
class JAExport:
    """A file that `scan` has read through once: how to read it, and how many rows it has."""

    path: Path
    encoding: str
    # Where each known column is, and how many columns the header has.
    columns: dict[str, int]
    width: int
    rows: int

    @property
    def encoding_label(self) -> str:
        return encoding_label(self.path, self.encoding)


def encoding_label(path: Path, encoding: str) -> str:
    """The encoding as an operator knows it: "utf-8-sig" reads files with and without a BOM,
    so say which this one is."""
    if encoding != "utf-8-sig":
        return encoding
    with path.open("rb") as file:
        return "UTF-8 (BOM)" if file.read(3) == codecs.BOM_UTF8 else "UTF-8"


@dataclass(frozen=True)
class Rejection:
    line: int
    reason: str


@dataclass
class ImportReport:
    created: int = 0
    updated: int = 0
    # Already in the database with the file's values.
    up_to_date: int = 0
    # Left alone: they have changed their PIN or password since they were imported.
    changed_credentials: int = 0
    # Left alone: the member ID belongs to an account that did not come from JA.
    not_from_ja: int = 0
    rejected: int = 0

    @property
    def unchanged(self) -> int:
        return self.up_to_date + self.changed_credentials + self.not_from_ja


def scan(path: str | Path, encoding: str | None = None) -> JAExport:
    """Read the file once and check what can make the whole file unusable.

    With no encoding given, try UTF-8 (with or without a BOM), then CP932, except for a
    file that is UTF-8 but for a few bytes: that one is refused, naming the first of them.
    """
    path = Path(path)
    if encoding is not None:
        try:
            encoding = codecs.lookup(encoding).name
        except LookupError:
            raise ImportFileError(
                _("Unknown encoding: %(encoding)s.") % {"encoding": encoding}
            ) from None
    for candidate in [encoding] if encoding else AUTO_ENCODINGS:
        try:
            return _scan(path, candidate)
        except UnicodeDecodeError:
            if not encoding and candidate == AUTO_ENCODINGS[0]:
                _refuse_damaged_utf8(path)
            continue
    if encoding and (first := _first_undecodable(path, encoding)):
        line, byte = first
        raise ImportFileError(
            _(
                "%(file)s, line %(line)s: byte %(byte)s is not %(encoding)s text. Name the "
                "file's own encoding with --encoding, or leave it out (UTF-8 and CP932 are "
                "recognised)."
            )
            % {"file": path, "line": line, "byte": f"0x{byte:02x}", "encoding": encoding}
        )
    if encoding:
        message = _("%(file)s is not valid %(encoding)s text.")
    else:
        message = _(
            "%(file)s is neither UTF-8 nor CP932 (Shift_JIS) text. Save it from Excel as "
            "“CSV UTF-8”, or name its encoding with --encoding."
        )
    raise ImportFileError(message % {"file": path, "encoding": encoding})


def _first_undecodable(path: Path, encoding: str) -> tuple[int, int] | None:
    """The line and value of the file's first byte that `encoding` cannot read (read whole:
    only when the file is refused); None if read whole it reads."""
    data = path.read_bytes()
    try:
        data.decode(encoding)
    except UnicodeDecodeError as error:
        before = data[: error.start].replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        return before.count(b"\n") + 1, data[error.start]
    return None


def import_members(
    export: JAExport,
    *,
    dry_run: bool = False,
    on_rejected: Callable[[Rejection], None] = lambda rejection: None,
    on_progress: Callable[[int], None] = lambda rows: None,
) -> ImportReport:
    """Create the file's new members and update those still untouched; report every row.

    Rejections go to `on_rejected` as they are found rather than into the report, so a
    large file full of bad rows costs no memory. `on_progress` hears how many more rows
    have been dealt with after each batch. A dry run reads and decides everything, and
    writes nothing.
    """
    report = ImportReport()
    now = timezone.now()
    # Every member ID accepted so far and its line: the only thing kept for the whole file.
    seen: dict[str, int] = {}
    batch: list[dict[str, str]] = []
    done = 0
    with _records(export.path, export.encoding) as records:
        next(records)  # the header, checked by scan
        for line, record in records:
            fields = _member_fields(record, export, line, seen)
            if isinstance(fields, Rejection):
                report.rejected += 1
                on_rejected(fields)
            else:
                batch.append(fields)
            done += 1
            if len(batch) == BATCH_SIZE:
                _save(batch, report, now=now, dry_run=dry_run)
                batch.clear()
                on_progress(done)
                done = 0
        _save(batch, report, now=now, dry_run=dry_run)
        on_progress(done)
    return report


# --- Reading --------------------------------------------------------------------------------


@contextmanager
def _records(path: Path, encoding: str) -> Iterator[Iterator[tuple[int, list[str]]]]:
    """The file's non-blank CSV records, each with the line it starts on."""
    try:
        file = path.open(encoding=encoding, newline="")
    except FileNotFoundError:
        # Our own words: the system's error text is English inside a Japanese sentence.
        raise ImportFileError(_("There is no file %(file)s.") % {"file": path}) from None
    except IsADirectoryError:
        raise ImportFileError(_("%(file)s is a folder, not a file.") % {"file": path}) from None
    except PermissionError:
        raise ImportFileError(
            _("%(file)s cannot be read: no permission.") % {"file": path}
        ) from None
    except OSError as error:
        raise ImportFileError(
            _("Cannot open %(file)s: %(error)s") % {"file": path, "error": error.strerror}
        ) from None
    with file:
        reader = csv.reader(file)

        def numbered():
            line = 1
            while True:
                try:
                    record = next(reader, None)
                except csv.Error as error:
                    # Named by the line the record starts on: a quote left open there runs
                    # on until a field is too long or the file ends.
                    raise ImportFileError(
                        _(
                            "%(file)s, line %(line)s: this is not CSV that can be read "
                            "(%(error)s). Check the line for a quote that is not closed."
                        )
                        % {"file": path, "line": line, "error": error}
                    ) from None
                if record is None:
                    return
                # Spreadsheets leave empty rows (often a line of commas) at the end.
                if any(field.strip() for field in record):
                    yield line, record
                line = reader.line_num + 1

        yield numbered()


def _scan(path: Path, encoding: str) -> JAExport:
    # No `_` as a throwaway name in this module: it is gettext.
    with _records(path, encoding) as records:
        header = next(records, (1, []))[1]
        columns = _columns(header, path, encoding)
        rows = sum(1 for record in records)
    return JAExport(path=path, encoding=encoding, columns=columns, width=len(header), rows=rows)


# A stray byte in a UTF-8 file must not make it CP932: UTF-8 Japanese read as CP932 is
# mojibake that imports without an error (田中 becomes 逕ｰ荳ｭ). CP932 text holds multi-byte
# UTF-8 sequences only by accident (two half-width kana in a row, ﾅｶ), far fewer than the
# bytes that are not UTF-8; a UTF-8 file with a few bad bytes has many more sequences.
UTF8_SEQUENCES_PER_BAD_BYTE = 2
LONE_CR = re.compile(rb"\r(?!$)")


def _refuse_damaged_utf8(path: Path) -> None:
    """Stop, naming the first bad byte, when the file is UTF-8 apart from a few bytes."""
    bad_bytes = sequences = 0
    first_bad = None
    with path.open("rb") as file:
        line = 0
        for raw in file:
            # Line numbers as the CSV reader counts them: a lone CR ends a line too.
            for text in LONE_CR.split(raw):
                line += 1
                start = 0
                while True:
                    try:
                        good = text[start:].decode("utf-8")
                    except UnicodeDecodeError as error:
                        good = text[start : start + error.start].decode("utf-8")
                        bad_bytes += error.end - error.start
                        if first_bad is None:
                            first_bad = (line, text[start + error.start])
                        start += error.end
                    else:
                        start = len(text)
                    sequences += sum(1 for ch in good if ord(ch) > 0x7F)
                    if start >= len(text):
                        break
    if first_bad and sequences >= UTF8_SEQUENCES_PER_BAD_BYTE * bad_bytes:
        raise ImportFileError(
            _(
                "%(file)s, line %(line)s: byte %(byte)s is not UTF-8. The rest of the file "
                "reads as UTF-8, so it was not read as CP932. Bytes that are not UTF-8: "
                "%(count)s. Correct them and import again."
            )
            % {
                "file": path,
                "line": first_bad[0],
                "byte": f"0x{first_bad[1]:02x}",
                "count": bad_bytes,
            }
        )


def _columns(header: list[str], path: Path, encoding: str) -> dict[str, int]:
    """Where each known column is; header names are matched ignoring case and spaces."""
    names = [name.strip().strip("\ufeff").lower() for name in header]
    missing = [name for name in REQUIRED_COLUMNS if name not in names]
    if missing:
        raise ImportFileError(
            _(
                "%(file)s: the first line must name the columns member_id, name and email "
                "(id_document_number and preferred_language are optional). Missing: "
                "%(missing)s. The file was read as %(encoding)s."
            )
            % {
                "file": path,
                "missing": ", ".join(missing),
                "encoding": encoding_label(path, encoding),
            }
        )
    wanted = REQUIRED_COLUMNS + OPTIONAL_COLUMNS
    twice = sorted({name for name in names if name in wanted and names.count(name) > 1})
    if twice:
        raise ImportFileError(
            _("These columns appear more than once: %(columns)s.") % {"columns": ", ".join(twice)}
        )
    return {name: names.index(name) for name in wanted if name in names}


# --- Checking one row -----------------------------------------------------------------------


class _Refused(Exception):
    """Why a row cannot be imported; _member_fields adds the line."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


def _member_fields(
    record: list[str], export: JAExport, line: int, seen: dict[str, int]
) -> dict[str, str] | Rejection:
    """What `ja_member` takes for this row, or why the row cannot be imported. The checks
    run in the order a person fixing the file reads the columns."""
    try:
        value = _cells(record, export)
        member_id = _new_member_id(value["member_id"], seen)
        fields = {
            "member_id": member_id,
            "name": _name(value["name"]),
            "email": _email(value["email"]),
            "id_document_number": value.get("id_document_number", ""),
            "preferred_language": _language(value.get("preferred_language", "")),
        }
        _within_lengths(fields)
    except _Refused as refused:
        return Rejection(line, refused.message)
    # Only an accepted row claims its ID: a later row can still bring a rejected one in.
    seen[member_id] = line
    return fields


def _cells(record: list[str], export: JAExport) -> dict[str, str]:
    """The row's values by column name, each on one line and free of control characters."""
    if len(record) != export.width:
        if len(record) < export.width and any("\n" in field for field in record[-1:]):
            # A quote left open runs on over the lines after it, into one field.
            raise _Refused(
                _(
                    "The row has %(found)s fields but the header has %(expected)s: a quote "
                    "on this line is not closed, so the lines after it were read into it."
                )
                % {"found": len(record), "expected": export.width}
            )
        raise _Refused(
            _("The row has %(found)s fields but the header has %(expected)s.")
            % {"found": len(record), "expected": export.width}
        )
    value = {}
    for name, index in export.columns.items():
        # A control character refused (NUL would fail the whole batch on PostgreSQL).
        value[name] = credentials.one_line(record[index])
        if value[name] is None:
            raise _Refused(_("The %(column)s contains control characters.") % {"column": name})
    return value


def _new_member_id(typed: str, seen: dict[str, int]) -> str:
    member_id = credentials.normalise_member_id(typed)
    if not credentials.is_member_id(member_id):
        raise _Refused(
            _("Member ID “%(value)s” is not JPN followed by 7 digits.") % {"value": _shown(typed)}
        )
    if member_id in seen:
        raise _Refused(
            _("Member ID %(member_id)s is already on line %(line)s.")
            % {"member_id": member_id, "line": seen[member_id]}
        )
    return member_id


# What an imported name may not hold: the invisible characters registration refuses (a
# zero-width space, a right-to-left override; line and paragraph separators). A CP932 外字,
# which reads as a private-use character, is kept: the JA system's way to write a rare kanji.
_INVISIBLE_IN_A_NAME = frozenset({"Cf", "Zl", "Zp"})


def _name(typed: str) -> str:
    """The name, unless it holds an invisible character: it would reach every email's
    greeting, and admin refuses the name once it is edited."""
    invisible = [char for char in typed if unicodedata.category(char) in _INVISIBLE_IN_A_NAME]
    if invisible:
        # Named one by one: the quoted name shows an ideographic space or a 外字 as an
        # escape too, and those may stay.
        distinct = dict.fromkeys(invisible)
        characters = ", ".join(
            f"U+{ord(char):04X} {unicodedata.name(char, '')}".strip() for char in distinct
        )
        raise _Refused(
            ngettext(
                "The name “%(value)s” has an invisible character (%(characters)s), which a "
                "name cannot contain. Excel does not show it: delete it in a text editor, "
                "then import the file again.",
                "The name “%(value)s” has invisible characters (%(characters)s), which a "
                "name cannot contain. Excel does not show them: delete them in a text "
                "editor, then import the file again.",
                len(distinct),
            )
            % {"value": _shown(typed), "characters": characters}
        )
    return typed


def _email(typed: str) -> str:
    email = credentials.normalise_email(typed)
    if not email:
        raise _Refused(_("The email address is empty."))
    try:
        credentials.validate_mailable_email(email)
    except ValidationError:
        raise _Refused(
            _("Email address “%(value)s” is not valid.") % {"value": _shown(email)}
        ) from None
    return email


def _language(typed: str) -> str:
    language = typed.lower() or Member.Language.JA
    if language not in LANGUAGES:
        raise _Refused(
            _("Preferred language “%(value)s” is not ja or en (empty means ja).")
            % {"value": _shown(typed)}
        )
    return language


def _within_lengths(fields: dict[str, str]) -> None:
    for name in ("name", "email", "id_document_number"):
        # SQLite would store a longer value; PostgreSQL would fail the whole batch.
        limit = Member._meta.get_field(name).max_length
        if len(fields[name]) > limit:
            raise _Refused(
                _("The %(column)s is longer than %(limit)s characters.")
                % {"column": name, "limit": limit}
            )


def _shown(value: str, limit: int = 40) -> str:
    """A value quoted in a message, cut short so a stray huge field cannot flood the output,
    with invisible and control characters written as escapes (\\u202e): a right-to-left
    override would turn the operator's line around."""
    value = value if len(value) <= limit else value[:limit] + "…"
    return "".join(
        char.encode("unicode_escape").decode()
        if char != " " and unicodedata.category(char)[0] in "CZ"
        else char
        for char in value
    )


# --- Saving a batch -------------------------------------------------------------------------


def _save(batch: list[dict[str, str]], report: ImportReport, *, now, dry_run: bool) -> None:
    if not batch:
        return
    if dry_run:
        _split(batch, report, now=now, lock=False)
        return
    with transaction.atomic():
        new, changed = _split(batch, report, now=now, lock=True)
        _insert(new, now=now)
        Member.objects.bulk_update(changed, UPDATABLE_FIELDS)


# What differs between two new JA members; every other column is ja_member's, the same for all.
ROW_COLUMNS = ("member_id", "name", "email", "id_document_number", "preferred_language")


def _insert(rows: list[dict[str, str]], *, now) -> None:
    """Member.objects.bulk_create([ja_member(**row, now=now) for row in rows]), faster.

    bulk_create builds a model instance per row and prepares each of its twenty columns for
    the database one by one: most of a 100,000-row import's time (issue 13). Here the
    columns every new JA member shares are prepared once, from one ja_member, and each row
    adds only its own values and its own unusable-password marker.
    """
    if not rows:
        return
    connection = connections[router.db_for_write(Member)]
    prototype = ja_member("JPN0000000", now=now)
    fields = [field for field in Member._meta.concrete_fields if not field.primary_key]
    shared = [
        field.get_db_prep_save(field.pre_save(prototype, add=True), connection) for field in fields
    ]
    position = {field.attname: index for index, field in enumerate(fields)}
    password = position["password"]
    quote = connection.ops.quote_name
    # Table and column names from the model, quoted; every value goes as a parameter.
    sql = "INSERT INTO {} ({}) VALUES ({})".format(  # noqa: S608
        quote(Member._meta.db_table),
        ", ".join(quote(field.column) for field in fields),
        ", ".join(["%s"] * len(fields)),
    )
    values = []
    for row in rows:
        value = list(shared)
        for name in ROW_COLUMNS:
            value[position[name]] = row[name]
        value[password] = credentials.unusable_secret()
        values.append(value)
    with connection.cursor() as cursor:
        cursor.executemany(sql, values)


def _split(
    batch: list[dict[str, str]], report: ImportReport, *, now, lock: bool
) -> tuple[list[dict[str, str]], list[Member]]:
    """Split the batch into the rows of new members and updates of untouched ones; count
    the rest."""
    existing = Member.objects.filter(member_id__in=[row["member_id"] for row in batch]).only(
        "member_id", "origin", "on_default_password", "on_default_pin", *UPDATABLE_FIELDS
    )
    if lock:
        # A member changing their PIN while this batch runs waits for it (PostgreSQL), so an
        # update never lands on an account that has just stopped being untouched.
        existing = existing.select_for_update()
    by_id = {member.member_id: member for member in existing}
    new, changed = [], []
    for row in batch:
        member = by_id.get(row["member_id"])
        if member is None:
            new.append(row)
        elif member.origin != Member.Origin.JA:
            report.not_from_ja += 1
        elif not (member.on_default_password and member.on_default_pin):
            report.changed_credentials += 1
        elif any(getattr(member, name) != row[name] for name in UPDATABLE_FIELDS):
            for name in UPDATABLE_FIELDS:
                setattr(member, name, row[name])
            changed.append(member)
        else:
            report.up_to_date += 1
    report.created += len(new)
    report.updated += len(changed)
    return new, changed
