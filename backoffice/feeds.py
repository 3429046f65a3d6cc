"""`manage.py load_quotes FILE`: the market data feed (DESIGN.md: `symbol,name,last,change,
percent,as_of`), CSV or JSON, checked whole before anything is written."""

import csv
import datetime
import io
import json
from pathlib import Path

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from accounts.credentials import shows_as_written
from backoffice import ticker
from backoffice.models import NUMBER, Quote, plausible_time

COLUMNS = ["symbol", "name", "last", "change", "percent", "as_of"]
MAX_BYTES = 1_000_000
MAX_ROWS = 1000


class FeedError(Exception):
    """A feed refused whole: the message names the line (or item) and the reason."""


def _where(kind: str, n: int) -> str:
    return _("line %(n)d") % {"n": n} if kind == "csv" else _("item %(n)d") % {"n": n}


def read(path: Path) -> list[dict]:
    """The feed's rows, every field checked; FeedError for the first problem."""
    try:
        if path.stat().st_size > MAX_BYTES:
            raise FeedError(_("The file is larger than %(size)d bytes.") % {"size": MAX_BYTES})
        with path.open("rb") as file:  # not more than the limit, whatever the file says it is
            data = file.read(MAX_BYTES + 1)
    except OSError as error:
        raise FeedError(
            _("Cannot read %(path)s: %(reason)s") % {"path": path, "reason": error.strerror}
        ) from None
    if len(data) > MAX_BYTES:
        raise FeedError(_("The file is larger than %(size)d bytes.") % {"size": MAX_BYTES})
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise FeedError(
            _("The file is not UTF-8 (byte %(at)d).") % {"at": error.start + 1}
        ) from None
    if not text.strip():
        raise FeedError(_("The file is empty."))
    kind, rows = (
        ("json", _json_rows(text))
        if text.lstrip().startswith(("[", "{"))
        else ("csv", _csv_rows(text))
    )
    if len(rows) > MAX_ROWS:
        raise FeedError(_("More than %(count)d quotes in one file.") % {"count": MAX_ROWS})
    seen = {}
    checked = []
    for n, row in rows:
        quote = _checked(row, kind, n)
        if quote["symbol"] in seen:
            raise FeedError(
                _("%(where)s: %(symbol)s is already on %(first)s.")
                % {
                    "where": _where(kind, n),
                    "symbol": quote["symbol"],
                    "first": _where(kind, seen[quote["symbol"]]),
                }
            )
        seen[quote["symbol"]] = n
        checked.append(quote)
    return checked


def _csv_rows(text: str) -> list[tuple[int, dict]]:
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader)
    except (StopIteration, csv.Error):
        raise FeedError(_("The file is empty.")) from None
    _check_columns([h.strip() for h in header], "csv", 1)
    rows = []
    try:
        for record in reader:
            if not any(cell.strip() for cell in record):
                continue
            if len(record) != len(COLUMNS):
                raise FeedError(
                    _("%(where)s: %(found)d fields, the header has %(expected)d.")
                    % {
                        "where": _where("csv", reader.line_num),
                        "found": len(record),
                        "expected": len(COLUMNS),
                    }
                )
            rows.append(
                (reader.line_num, dict(zip([h.strip() for h in header], record, strict=True)))
            )
    except csv.Error as error:
        raise FeedError(f"{_where('csv', reader.line_num)}: {error}") from None
    return rows


def _json_rows(text: str) -> list[tuple[int, dict]]:
    try:
        items = json.loads(text, object_pairs_hook=_no_repeated_keys)
    except json.JSONDecodeError as error:
        raise FeedError(
            _("line %(n)d: not JSON (%(reason)s).") % {"n": error.lineno, "reason": error.msg}
        ) from None
    except _RepeatedKey as repeated:
        raise FeedError(
            _("line %(n)d: not JSON (%(reason)s).")
            % {
                "n": 1,
                "reason": _("the key %(key)s appears twice in one object") % {"key": repeated},
            }
        ) from None
    except (RecursionError, ValueError):  # nested a thousand deep; a number of 5,000 digits
        raise FeedError(
            _("line %(n)d: not JSON (%(reason)s).")
            % {"n": 1, "reason": _("nested too deep, or a number too long")}
        ) from None
    if not isinstance(items, list):
        raise FeedError(_("A JSON feed is a list of objects."))
    rows = []
    for n, item in enumerate(items, start=1):
        if not isinstance(item, dict):
            raise FeedError(_("%(where)s: not an object.") % {"where": _where("json", n)})
        _check_columns(list(item), "json", n)
        if not all(
            isinstance(value, str | int | float) or value is None for value in item.values()
        ):
            raise FeedError(
                _("%(where)s: values are text or numbers.") % {"where": _where("json", n)}
            )
        rows.append((n, {k: "" if v is None else str(v) for k, v in item.items()}))
    return rows


class _RepeatedKey(ValueError):
    pass


def _no_repeated_keys(pairs: list[tuple[str, object]]) -> dict:
    """A JSON object, refused when it names a key twice (json would keep the last)."""
    keys = [key for key, _value in pairs]
    if len(keys) != len(set(keys)):
        raise _RepeatedKey(next(k for k in keys if keys.count(k) > 1))
    return dict(pairs)


def _check_columns(found: list[str], kind: str, n: int) -> None:
    missing = [c for c in COLUMNS if c not in found]
    extra = [c for c in found if c not in COLUMNS]
    if missing or extra or len(found) != len(set(found)):
        raise FeedError(
            _(
                "%(where)s: the columns must be %(columns)s (missing: %(missing)s; unknown: %(extra)s)."
            )
            % {
                "where": _where(kind, n),
                "columns": ",".join(COLUMNS),
                "missing": ",".join(missing) or "-",
                "extra": ",".join(extra) or "-",
            }
        )


def _checked(row: dict, kind: str, n: int) -> dict:
    where = _where(kind, n)
    quote = {key: row[key].strip() for key in COLUMNS}
    symbol = quote["symbol"]
    if not symbol or len(symbol) > 20 or not shows_as_written(symbol):
        raise FeedError(_("%(where)s: symbol: 1 to 20 characters.") % {"where": where})
    if len(quote["name"]) > 100 or not shows_as_written(quote["name"]):
        raise FeedError(_("%(where)s: name: at most 100 printable characters.") % {"where": where})
    for field in ("last", "change", "percent"):
        if field == "percent" and not quote[field]:
            continue
        try:
            NUMBER(quote[field])
        except ValidationError:
            raise FeedError(
                _("%(where)s: %(field)s: not a number (%(value)r).")
                % {"where": where, "field": field, "value": quote[field][:40]}
            ) from None
    if quote["last"].startswith(("+", "-")):
        raise FeedError(_("%(where)s: last: a price has no sign.") % {"where": where})
    try:
        as_of = datetime.datetime.fromisoformat(quote["as_of"])
    except ValueError:
        as_of = None
    if as_of is None or as_of.tzinfo is None or not plausible_time(as_of):
        raise FeedError(
            _(
                "%(where)s: as_of: a date and time with its UTC offset, such as 2026-12-02T09:30:00+09:00 (%(value)r)."
            )
            % {"where": where, "value": quote["as_of"][:40]}
        )
    quote["as_of"] = as_of
    return quote


def load(quotes: list[dict]) -> dict[str, int]:
    """Write checked quotes in one transaction: each replaces its symbol's last quote."""
    counts = {"created": 0, "updated": 0, "unchanged": 0}
    with transaction.atomic():
        existing = {
            q.symbol: q
            for q in Quote.objects.select_for_update().filter(
                symbol__in=[q["symbol"] for q in quotes]
            )
        }
        for position, values in enumerate(quotes):
            values = values | {"position": position}
            quote = existing.get(values["symbol"])
            if quote is None:
                Quote.objects.create(**values)
                counts["created"] += 1
            elif any(getattr(quote, k) != v for k, v in values.items()):
                for k, v in values.items():
                    setattr(quote, k, v)
                quote.save()
                counts["updated"] += 1
            else:
                counts["unchanged"] += 1
    ticker.forget()
    return counts
