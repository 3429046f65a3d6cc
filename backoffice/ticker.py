"""The market ticker: the quotes every page's strip shows, read from the database once.

Pages read the quotes from the cache (Redis in production, shared by every app server); a
quote saved in admin or loaded by `manage.py load_quotes` clears it, so the next page reads
the table again. The entry also expires by itself (TTL), for a cache an app server keeps to
itself (no REDIS_URL). Rendering never calls the network.

Each process also keeps what it read for LOCAL_SECONDS: asking Redis on every page cost the
sign-in page a third of its CPU (issue 13). A change shows on every app server within that
time, at once in the process that made it. The strip's HTML is kept with it, once per
language (`strip`): rendering four quotes cost a page as much as the rest of the sign-in
page did. What it shows depends only on the quotes, the language and the time (a quote
turns "delayed"), never on who asks, so a copy a few seconds old is the page's own.
"""

import datetime
import logging
import time
from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.core.cache import cache
from django.db import DatabaseError, transaction
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.safestring import SafeString
from django.utils.translation import get_language

from backoffice.models import Quote

logger = logging.getLogger(__name__)
CACHE_KEY = "jenco:ticker:v1"
CACHE_SECONDS = 60
LOCAL_SECONDS = 5
SHOWN = 4  # the seed's strip: four instruments
_local: tuple[float, list] = (0.0, [])  # (read until, rows): this process's copy
_strips: tuple[float, dict[str, SafeString]] = (0.0, {})  # (for the copy until, by language)


@dataclass(frozen=True)
class Shown:
    symbol: str
    name: str
    last: str
    change: str
    percent: str
    as_of: datetime.datetime

    @property
    def direction(self) -> str:
        value = Decimal(self.change)
        return "up" if value > 0 else "down" if value < 0 else "flat"

    @property
    def signed_change(self) -> str:
        return self.change if self.change.startswith(("+", "-")) else f"+{self.change}"

    @property
    def signed_percent(self) -> str:
        if not self.percent:
            return ""
        return self.percent if self.percent.startswith(("+", "-")) else f"+{self.percent}"

    @property
    def of_another_year(self) -> bool:
        """Whether the quote's time needs its year (a feed stopped since last year)."""
        return timezone.localtime(self.as_of).year != timezone.localtime().year

    @property
    def stale(self) -> bool:
        age = timezone.now() - self.as_of
        return age > datetime.timedelta(minutes=settings.JENCO_QUOTE_STALE_MINUTES)


def _copy() -> tuple[float, list]:
    """This process's copy of the quotes, (kept until, rows), read again when it is due; a
    copy kept until 0 when they could not be read."""
    global _local
    copy = _local
    if time.monotonic() < copy[0]:
        return copy
    rows = cache.get(CACHE_KEY)
    if rows is None:
        fields = ("symbol", "name", "last", "change", "percent", "as_of")
        try:
            rows = list(Quote.objects.values_list(*fields)[:SHOWN])
        except DatabaseError:  # a row the driver cannot read: no strip, never a broken page
            logger.exception("the ticker's quotes could not be read")
            return (0.0, [])
        cache.set(CACHE_KEY, rows, CACHE_SECONDS)
    _local = copy = (time.monotonic() + LOCAL_SECONDS, rows)
    return copy


def strip() -> SafeString:
    """The strip in the active language (templates/_ticker.html), rendered once per language
    for as long as this process keeps its copy of the quotes. It shows nothing of who asks;
    the language is the only thing of the request it depends on (quotes' times are shown in
    the site's time zone: a time zone per member would have to join the key)."""
    global _strips
    language = get_language()
    copy = _copy()
    kept_for, by_language = _strips
    if kept_for == copy[0] and language in by_language:
        return by_language[language]
    quotes = [Shown(*row) for row in copy[1]]
    context = {"ticker_quotes": quotes, "delayed_together": _delayed_together(quotes)}
    html = render_to_string("_ticker.html", context)
    # Kept under the copy it was made from (none if the quotes could not be read): a save in
    # another thread meanwhile (forget_here), and a page after it, make a new copy, which
    # must not get this strip of the old quotes for its 5 seconds.
    if copy[0]:
        _strips = (copy[0], {**(by_language if kept_for == copy[0] else {}), language: html})
    return html


def _delayed_together(quotes: list[Shown]) -> bool:
    """Whether every quote is delayed, as of the same minute (a feed that stopped): one
    mark says so for them all, where four took a line each on a phone (helper-131)."""
    minutes = {timezone.localtime(q.as_of).replace(second=0, microsecond=0) for q in quotes}
    return len(quotes) > 1 and len(minutes) == 1 and all(q.stale for q in quotes)


def forget() -> None:
    forget_here()
    cache.delete(CACHE_KEY)


def forget_here() -> None:
    """Drop this process's copy only: the next page asks the shared cache."""
    global _local, _strips
    _local = (0.0, [])
    _strips = (0.0, {})


@receiver(post_save, sender=Quote)
@receiver(post_delete, sender=Quote)
def _quote_changed(sender, **kwargs):
    # After the commit: a page reading meanwhile would put the old quotes back in the cache.
    transaction.on_commit(forget)
