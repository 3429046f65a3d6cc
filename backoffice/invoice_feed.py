"""The billing system's CSV export, loaded whole or not at all (`manage.py load_invoices`).

Columns (DESIGN.md): member_id,number,issued,due,amount_yen,status. Every line is checked
before anything is written, and every problem is reported with its line; one bad line and
nothing is loaded. An invoice number already here for the same member takes the file's
values, so loading the same file twice changes nothing.
"""

import codecs
import csv
import datetime
import io
import re
from dataclasses import dataclass
from pathlib import Path

from django.db import transaction
from django.utils.translation import gettext as _

from accounts import credentials
from accounts.models import Member
from backoffice.models import INVOICE_NUMBER_ERROR, INVOICE_NUMBER_RE, Invoice

COLUMNS = ("member_id", "number", "issued", "due", "amount_yen", "status")
STATUSES = tuple(Invoice.Status.values)
DATE_RE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", re.ASCII)
AMOUNT_RE = re.compile(r"[0-9]+", re.ASCII)
NUMBER = re.compile(INVOICE_NUMBER_RE, re.ASCII)
MAX_AMOUNT = 9_223_372_036_854_775_807  # the database column's limit
UPDATED_FIELDS = ("issued", "due", "amount_yen", "status")


class FeedRefused(Exception):
    """The file loads nothing: each problem is (line, reason), line 0 for the file itself."""

    def __init__(self, problems: list[tuple[int, str]]):
        super().__init__(problems)
        self.problems = problems


@dataclass(frozen=True)
class Line:
    line: int
    member_id: str
    number: str
    issued: datetime.date
    due: datetime.date
    amount_yen: int
    status: str


@dataclass
class LoadReport:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    encoding: str = "UTF-8"


def load(path) -> LoadReport:
    """Check the whole file, then create or update its invoices in one transaction."""
    text, encoding = _read(Path(path))
    lines = _parse(text)
    with transaction.atomic():
        report = _apply(lines)
    report.encoding = encoding
    return report


def _read(path: Path) -> tuple[str, str]:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise FeedRefused([(0, _("There is no file %(file)s.") % {"file": path})]) from None
    except IsADirectoryError:
        raise FeedRefused([(0, _("%(file)s is a folder, not a file.") % {"file": path})]) from None
    except PermissionError:
        raise FeedRefused(
            [(0, _("%(file)s cannot be read: no permission.") % {"file": path})]
        ) from None
    encoding = "UTF-8 (BOM)" if data.startswith(codecs.BOM_UTF8) else "UTF-8"
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        raise FeedRefused(
            [
                (
                    line,
                    _("Byte 0x%(byte)02x is not UTF-8: save the file as UTF-8 (“CSV UTF-8”).")
                    % {"byte": data[error.start]},
                )
            ]
        ) from None
    if not text.strip():
        raise FeedRefused([(0, _("The file is empty: it has not even the header line."))])
    return text, encoding


def _parse(text: str) -> list[Line]:
    """Every line checked on its own; problems of all lines are gathered before refusing."""
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    problems: list[tuple[int, str]] = []
    rows: list[tuple[int, list[str]]] = []
    try:
        header = next(reader)
        start = reader.line_num + 1
        for record in reader:
            if any(value.strip() for value in record):  # blank lines, or commas only
                rows.append((start, record))
            start = reader.line_num + 1
    except csv.Error as error:
        raise FeedRefused(
            [
                (
                    reader.line_num,
                    _("This is not CSV that can be read (%(error)s).") % {"error": error},
                )
            ]
        ) from None
    columns = _columns(header)
    if not rows:
        raise FeedRefused([(1, _("The file has a header line but no invoices."))])

    lines, seen = [], {}
    for line, record in rows:
        if len(record) != len(COLUMNS):
            problems.append(
                (
                    line,
                    _("The row has %(found)s fields but the header has %(expected)s.")
                    % {"found": len(record), "expected": len(COLUMNS)},
                )
            )
            continue
        values = {name: record[index].strip() for name, index in columns.items()}
        reasons = []
        parsed = _check(values, reasons)
        if parsed and parsed["number"] in seen:
            reasons.append(
                _("Invoice number %(number)s is already on line %(line)s.")
                % {"number": parsed["number"], "line": seen[parsed["number"]]}
            )
        elif parsed:
            seen[parsed["number"]] = line
        problems.extend((line, reason) for reason in reasons)
        if not reasons:
            lines.append(Line(line=line, **parsed))
    if problems:
        raise FeedRefused(problems)
    return lines


def _columns(header: list[str]) -> dict[str, int]:
    names = [name.strip() for name in header]
    missing = [name for name in COLUMNS if name not in names]
    extra = [name or '""' for name in names if name not in COLUMNS]
    twice = sorted({name for name in names if names.count(name) > 1})
    problems = []
    if missing:
        problems.append(
            _("The header lacks the columns %(columns)s.") % {"columns": ", ".join(missing)}
        )
    if extra:
        problems.append(
            _("The header has columns this file must not have: %(columns)s.")
            % {"columns": ", ".join(_shown(name) for name in extra)}
        )
    if twice:
        problems.append(
            _("These columns appear more than once: %(columns)s.") % {"columns": ", ".join(twice)}
        )
    if problems:
        raise FeedRefused([(1, problem) for problem in problems])
    return {name: names.index(name) for name in COLUMNS}


def _check(values: dict[str, str], reasons: list[str]) -> dict | None:
    """The line's values, parsed; each problem appended to `reasons`."""
    member_id = credentials.normalise_member_id(values["member_id"])
    if not credentials.is_member_id(member_id):
        reasons.append(
            _("Member ID “%(value)s” is not JPN followed by 7 digits.")
            % {"value": _shown(values["member_id"])}
        )
    number = values["number"]
    if not NUMBER.fullmatch(number):
        reasons.append(
            _("Invoice number “%(value)s”: %(rule)s")
            % {"value": _shown(number), "rule": INVOICE_NUMBER_ERROR}
        )
    issued, due = _date(values, "issued", reasons), _date(values, "due", reasons)
    if issued and due and due < issued:
        reasons.append(
            _("The due date %(due)s is before the issue date %(issued)s.")
            % {"due": due.isoformat(), "issued": issued.isoformat()}
        )
    amount = _amount(values["amount_yen"], reasons)
    status = values["status"]
    if status not in STATUSES:
        reasons.append(
            _("Status “%(value)s” is not one of open, paid or void.") % {"value": _shown(status)}
        )
    if reasons:
        return None
    return {
        "member_id": member_id,
        "number": number,
        "issued": issued,
        "due": due,
        "amount_yen": amount,
        "status": status,
    }


def _date(values: dict[str, str], column: str, reasons: list[str]) -> datetime.date | None:
    value = values[column]
    try:
        if DATE_RE.fullmatch(value):
            return datetime.date.fromisoformat(value)
    except ValueError:
        pass
    reasons.append(
        _("The %(column)s date “%(value)s” is not a date written YYYY-MM-DD.")
        % {"column": column, "value": _shown(value)}
    )
    return None


def _amount(value: str, reasons: list[str]) -> int | None:
    # The length first: int() refuses strings of more than 4,300 digits.
    if AMOUNT_RE.fullmatch(value) and len(value) <= 19 and int(value) <= MAX_AMOUNT:
        return int(value)
    if value.startswith("-") and AMOUNT_RE.fullmatch(value[1:]):
        reasons.append(_("The amount %(value)s is negative.") % {"value": _shown(value)})
    elif AMOUNT_RE.fullmatch(value):
        reasons.append(_("The amount %(value)s is too large.") % {"value": _shown(value)})
    else:
        reasons.append(
            _("The amount “%(value)s” is not a whole number of yen (digits only, no commas).")
            % {"value": _shown(value)}
        )
    return None


def _apply(lines: list[Line]) -> LoadReport:
    """Inside the caller's transaction: the members must exist, and a number already here must
    be the same member's; then create what is new and update what differs."""
    members, existing = {}, {}
    for chunk in _chunks(sorted({line.member_id for line in lines})):
        members.update(Member.objects.filter(member_id__in=chunk).values_list("member_id", "pk"))
    for chunk in _chunks([line.number for line in lines]):
        # Locked, so a second load at the same time waits, then sees this one's rows.
        invoices = Invoice.objects.select_for_update().select_related("member")
        existing.update((i.number, i) for i in invoices.filter(number__in=chunk))
    problems = []
    for line in lines:
        if line.member_id not in members:
            problems.append(
                (line.line, _("There is no member %(member_id)s.") % {"member_id": line.member_id})
            )
        elif line.number in existing and existing[line.number].member_id != members[line.member_id]:
            problems.append(
                (
                    line.line,
                    _("Invoice number %(number)s already belongs to member %(other)s.")
                    % {"number": line.number, "other": existing[line.number].member.member_id},
                )
            )
    if problems:
        raise FeedRefused(problems)

    report, new, changed = LoadReport(), [], []
    for line in lines:
        values = {name: getattr(line, name) for name in UPDATED_FIELDS}
        invoice = existing.get(line.number)
        if invoice is None:
            new.append(Invoice(member_id=members[line.member_id], number=line.number, **values))
        elif any(getattr(invoice, name) != value for name, value in values.items()):
            for name, value in values.items():
                setattr(invoice, name, value)
            changed.append(invoice)
        else:
            report.unchanged += 1
    Invoice.objects.bulk_create(new, batch_size=1000)
    for invoice in changed:
        invoice.save(update_fields=[*UPDATED_FIELDS, "updated"])
    report.created, report.updated = len(new), len(changed)
    return report


def _chunks(values: list[str], size: int = 500):
    """Lookups of a few hundred values each: SQLite limits the parameters of one query."""
    for start in range(0, len(values), size):
        yield values[start : start + size]


def _shown(value: str, limit: int = 40) -> str:
    """A value quoted in a message, cut short so a stray huge field cannot flood the output."""
    return value if len(value) <= limit else value[:limit] + "…"
