from django import template
from django.utils.safestring import SafeString

from backoffice import ticker as market_ticker

register = template.Library()


@register.simple_tag
def ticker() -> SafeString:
    """The market ticker's strip (backoffice.ticker): from the cache, no query while the
    quotes are unchanged; nothing at all when there are none."""
    return market_ticker.strip()
