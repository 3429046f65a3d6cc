"""Reading and loading a quote feed (`manage.py load_quotes FILE`, DESIGN.md's columns).

A feed is UTF-8 (a BOM is allowed), CSV with a header line or JSON (a list of objects with
the same keys). The whole file is read and checked before anything is written: one bad line
refuses the file, and nothing is loaded. Each row replaces its symbol's quote; a row equal to
the stored quote writes nothing, so loading the same file twice changes nothing.
"""

import csv
import datetime
import io
import json
from dataclasses import dataclass
from pathlib import Path

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from backoffice.models import Quote

COLUMNS = ("symbol", "name", "last", "change", "percent", "as_of")
# A feed holds a handful of instruments; anything this big is not one.
MAX_BYTES = 1024 * 1024
MAX_QUOTES = 1000


class FeedError(Exception):
    """The file cannot be read as a feed at all; the message says why, in the operator's
    language."""


@dataclass(frozen=True)
class Problem:
    line: int
    reason: str


class BadRows(Exception):
    def __init__(self, problems: list[Problem]):
        super().__init__(problems)
        self.problems = problems


@dataclass
class Report:
    created: int = 0
    updated: int = 0
    unchanged: int = 0


def read(path: str | Path) -> list[Quote]:
    """The file's quotes, checked; raises FeedError or BadRows (listing every bad line)."""
    text = _decode(_read_bytes(Path(path)))
    if not text.strip():
        raise FeedError(_("The file is empty."))
    json_file = Path(path).suffix.lower() == ".json" or text.lstrip()[:1] in ("[", "{")
    problems = []
    rows = _json_rows(text) if json_file else _csv_rows(text, problems)
    if not rows and not problems:
        raise FeedError(_("The file holds no quotes."))
    if len(rows) > MAX_QUOTES:
        raise FeedError(
            _("The file holds %(count)s quotes; a feed may hold at most %(most)s.")
            % {"count": len(rows), "most": MAX_QUOTES}
        )
    quotes, seen = [], {}
    for position, (line, values) in enumerate(rows, start=1):
        try:
            quote = _quote(values, position)
        except ValidationError as error:
            problems.append(Problem(line, _first_message(error)))
            continue
        if quote.symbol in seen:
            reason = _("Symbol %(symbol)s is already on line %(line)s.")
            problems.append(
                Problem(line, reason % {"symbol": quote.symbol, "line": seen[quote.symbol]})
            )
            continue
        seen[quote.symbol] = line
        quotes.append(quote)
    if problems:
        raise BadRows(problems)
    return quotes


def load(quotes: list[Quote]) -> Report:
    """Replace each symbol's quote in one transaction; write only what differs."""
    report = Report()
    try:
        with transaction.atomic():
            stored = Quote.objects.select_for_update().in_bulk(
                [quote.symbol for quote in quotes], field_name="symbol"
            )
            for quote in quotes:
                current = stored.get(quote.symbol)
                if current is None:
                    quote.save()
                    report.created += 1
                elif _fields(current) != _fields(quote):
                    quote.pk = current.pk
                    quote.save()
                    report.updated += 1
                else:
                    report.unchanged += 1
    except IntegrityError:
        # Another load created one of these symbols meanwhile; this one wrote nothing.
        raise FeedError(
            _("Another load of quotes ran at the same time. Nothing was loaded: run it again.")
        ) from None
    return report  # each save forgot the cached strip (backoffice.ticker)


def _fields(quote: Quote) -> tuple:
    # As text: 11.0 and 11.00 are equal numbers but not the same quote to show.
    exact = [quote.last, quote.change, quote.percent]
    return (
        quote.name,
        *(None if v is None else format(v, "f") for v in exact),
        quote.as_of,
        quote.position,
    )


def _read_bytes(path: Path) -> bytes:
    try:
        with path.open("rb") as file:
            data = file.read(MAX_BYTES + 1)
    except FileNotFoundError:
        raise FeedError(_("There is no file %(file)s.") % {"file": path}) from None
    except IsADirectoryError:
        raise FeedError(_("%(file)s is a folder, not a file.") % {"file": path}) from None
    except PermissionError:
        raise FeedError(_("%(file)s cannot be read (no permission).") % {"file": path}) from None
    except OSError as error:
        raise FeedError(
            _("%(file)s cannot be read: %(reason)s") % {"file": path, "reason": error.strerror}
        ) from None
    if len(data) > MAX_BYTES:
        raise FeedError(
            _("The file is larger than %(size)s MB; a quote feed holds a few lines.")
            % {"size": MAX_BYTES // (1024 * 1024)}
        )
    return data


def _decode(data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        raise FeedError(
            _("Line %(line)s: byte 0x%(byte)02x is not UTF-8. Save the file as UTF-8.")
            % {"line": line, "byte": data[error.start]}
        ) from None


def _csv_rows(text: str, problems: list[Problem]) -> list[tuple[int, dict]]:
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    rows = []
    try:
        header = next(reader)
        _check_columns([name.strip() for name in header], line=1)
        names = [name.strip() for name in header]
        while True:
            line = reader.line_num + 1
            try:
                fields = next(reader)
            except StopIteration:
                break
            if not any(field.strip() for field in fields):
                continue  # a blank line, or the commas a spreadsheet leaves
            if len(fields) != len(names):
                reason = _("The line has %(fields)s fields but the header has %(columns)s.")
                problems.append(
                    Problem(line, reason % {"fields": len(fields), "columns": len(names)})
                )
                continue
            rows.append((line, dict(zip(names, fields, strict=True))))
    except csv.Error as error:
        raise FeedError(
            _("Line %(line)s: not readable as CSV (%(reason)s).")
            % {"line": reader.line_num, "reason": error}
        ) from None
    return rows


def _check_columns(names, line: int) -> None:
    missing = [name for name in COLUMNS if name not in names]
    unknown = [name for name in names if name not in COLUMNS]
    repeated = sorted({name for name in names if list(names).count(name) > 1})
    if missing or unknown or repeated:
        reasons = []
        if missing:
            reasons.append(_("missing column %(names)s") % {"names": ", ".join(missing)})
        if unknown:
            reasons.append(_("unknown column %(names)s") % {"names": ", ".join(map(str, unknown))})
        if repeated:
            reasons.append(_("repeated column %(names)s") % {"names": ", ".join(repeated)})
        raise BadRows(
            [
                Problem(
                    line,
                    _("The columns must be %(columns)s: %(reasons)s.")
                    % {"columns": ",".join(COLUMNS), "reasons": "; ".join(reasons)},
                )
            ]
        )


def _json_rows(text: str) -> list[tuple[int, dict]]:
    """Each object with the line it starts on. Numbers are kept as the text they were
    written as (1.18424, never a float), so they are checked like the CSV's."""
    decoder = json.JSONDecoder(
        parse_float=str, parse_int=str, parse_constant=str, object_pairs_hook=_unique_keys
    )
    position = _skip_space(text, 0)
    if text[position : position + 1] != "[":
        raise FeedError(_("A JSON feed must be a list of objects: [{…}, {…}]."))
    rows, position = [], _skip_space(text, position + 1)
    if text[position : position + 1] == "]":
        return _nothing_after(text, position + 1, rows)
    while True:
        line = text.count("\n", 0, position) + 1
        try:
            item, position = decoder.raw_decode(text, position)
        except DuplicateKey as error:
            raise BadRows([Problem(line, str(error))]) from None
        except RecursionError:
            raise FeedError(
                _("Line %(line)s: the JSON is nested too deeply.") % {"line": line}
            ) from None
        except json.JSONDecodeError as error:
            raise FeedError(
                _("Line %(line)s: not readable as JSON (%(reason)s).")
                % {"line": error.lineno, "reason": error.msg}
            ) from None
        if not isinstance(item, dict):
            raise BadRows([Problem(line, _("Each item of the list must be an object {…}."))])
        _check_columns(list(item), line)
        rows.append((line, item))
        position = _skip_space(text, position)
        separator = text[position : position + 1]
        if separator == "]":
            return _nothing_after(text, position + 1, rows)
        if separator != ",":
            line = text.count("\n", 0, position) + 1
            raise FeedError(
                _("Line %(line)s: not readable as JSON (%(reason)s).")
                % {"line": line, "reason": _("expected , or ]")}
            )
        position = _skip_space(text, position + 1)


def _nothing_after(text: str, position: int, rows: list) -> list:
    rest = _skip_space(text, position)
    if rest < len(text):
        line = text.count("\n", 0, rest) + 1
        raise FeedError(
            _("Line %(line)s: not readable as JSON (%(reason)s).")
            % {"line": line, "reason": _("text after the list")}
        )
    return rows


def _skip_space(text: str, position: int) -> int:
    while position < len(text) and text[position] in " \t\r\n":
        position += 1
    return position


class DuplicateKey(ValueError):
    pass


def _unique_keys(pairs):
    keys = [key for key, _value in pairs]
    for key in keys:
        if keys.count(key) > 1:
            raise DuplicateKey(_("The key %(key)s appears twice.") % {"key": key})
    return dict(pairs)


def _quote(values: dict, position: int) -> Quote:
    """One row as a Quote, checked by the model's own rules (the same as admin's)."""
    text = {}
    for column in COLUMNS:
        value = values[column]
        if value is None and column == "percent":
            value = ""
        if not isinstance(value, str):
            raise ValidationError(_("%(column)s must be text or a number.") % {"column": column})
        text[column] = value.strip()
    quote = Quote(
        symbol=text["symbol"],
        name=text["name"],
        last=text["last"],
        change=text["change"],
        percent=text["percent"] or None,
        as_of=_moment(text["as_of"]),
        position=position,
    )
    quote.full_clean(validate_unique=False)
    # full_clean turned the text into Decimals (to_python); keep those for the comparison.
    return quote


def _moment(value: str) -> datetime.datetime:
    """ISO 8601 with a UTC offset: a time without one is refused, not guessed."""
    try:
        moment = datetime.datetime.fromisoformat(value)
    except ValueError:
        raise ValidationError(
            _("as_of “%(value)s” is not a date and time such as 2021-12-01T15:00:00+09:00.")
            % {"value": value}
        ) from None
    try:
        moment.astimezone(datetime.UTC)
    except OverflowError:  # 0001-01-01T00:00+09:00 is before the first representable time
        raise ValidationError(
            _("as_of “%(value)s” is not a date and time such as 2021-12-01T15:00:00+09:00.")
            % {"value": value}
        ) from None
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValidationError(
            _("as_of “%(value)s” has no UTC offset: add one, such as +09:00 or Z.")
            % {"value": value}
        )
    return moment


def _first_message(error: ValidationError) -> str:
    if hasattr(error, "error_dict"):
        for field, errors in error.message_dict.items():
            return f"{field}: {errors[0]}"
    return error.messages[0]
