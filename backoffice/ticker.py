"""The market ticker: four quotes above the sign-in box and in the back office header.

The strip is rendered once and kept in Django's cache (Redis with REDIS_URL), one copy per
language, so a page that shows it runs no query and no template for it while the quotes stay
as they are: the sign-in page's cost is a benchmark goal (issue 13). Saving or deleting a
quote (admin) and `manage.py load_quotes` forget the copies. Nothing here calls the network:
the quotes are rows in our database.
"""

import datetime
import math

from django.conf import settings
from django.core.cache import cache, caches
from django.core.cache.backends.locmem import LocMemCache
from django.db import transaction
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.safestring import SafeString

from backoffice.models import Quote

SHOWN = 4  # the seed's strip
# How long a copy may be kept at most. Redis is shared by every app server, so an edit
# reaches all of them at once and the copy lives long: the strip costs a query an hour. A
# process's own memory (no REDIS_URL) cannot be told about an edit made in another process,
# so there a copy is kept a minute: the other processes show an edit within that.
SHARED_CACHE_SECONDS = 60 * 60
LOCAL_CACHE_SECONDS = 60
_KEY = "backoffice.ticker:{language}"


def strip() -> SafeString:
    """The strip's HTML in the active language; empty when there are no quotes."""
    key = _KEY.format(language=translation.get_language() or settings.LANGUAGE_CODE)
    html = cache.get(key)
    if html is None:
        html, seconds = _render()
        cache.set(key, html, seconds)
    return html  # a SafeString from our template (the cache keeps its type), or ""


def forget() -> None:
    """Drop every language's copy now, and again when the transaction commits: a page
    rendered in between would otherwise keep the old quotes in the cache."""
    keys = cache_keys()
    cache.delete_many(keys)
    transaction.on_commit(lambda: cache.delete_many(keys))


def cache_keys() -> list[str]:
    return [_KEY.format(language=code) for code, _name in settings.LANGUAGES]


@receiver(post_save, sender=Quote)
@receiver(post_delete, sender=Quote)
def _quote_changed(**kwargs) -> None:
    forget()


def _render() -> tuple[str, int]:
    """The strip, and how long it may be kept: no longer than until a quote turns stale."""
    local = isinstance(caches["default"], LocMemCache)
    seconds = LOCAL_CACHE_SECONDS if local else SHARED_CACHE_SECONDS
    quotes = list(Quote.objects.all()[:SHOWN])
    if not quotes:
        return "", seconds
    now = timezone.now()
    stale_after = datetime.timedelta(minutes=settings.JENCO_QUOTE_STALE_MINUTES)
    for quote in quotes:
        turns_stale_in = (quote.as_of + stale_after - now).total_seconds()
        if turns_stale_in > 0:
            seconds = min(seconds, max(1, math.ceil(turns_stale_in)))
    items = [_item(quote, stale=quote.as_of + stale_after <= now) for quote in quotes]
    return render_to_string("backoffice/_ticker.html", {"quotes": items}), seconds


def _item(quote: Quote, *, stale: bool) -> dict:
    direction = "up" if quote.change > 0 else "down" if quote.change < 0 else "flat"
    return {
        "symbol": quote.symbol,
        "name": quote.name,
        "last": format(quote.last, "f"),
        "change": signed(quote.change),
        "percent": None if quote.percent is None else signed(quote.percent),
        "direction": direction,
        "as_of": quote.as_of,
        "stale": stale,
    }


def signed(value) -> str:
    """+5.0, -0.00024, 0.00: the feed's digits with the sign a ticker shows."""
    if value > 0:
        return "+" + format(value, "f")
    if value < 0:
        return format(value, "f")
    return format(abs(value), "f")  # -0.00 is no fall
