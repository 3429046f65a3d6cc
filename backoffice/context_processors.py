from django.conf import settings
from django.utils.functional import SimpleLazyObject

from backoffice import ticker


def quotes(request):
    """`ticker_strip`, the strip in every page's header (its HTML), made only where a page
    shows it."""
    return {"ticker_strip": SimpleLazyObject(ticker.strip)}


def support(request):
    """`support_email`: where members reach JENCO Support (every page's footer)."""
    return {"support_email": settings.JENCO_SUPPORT_EMAIL}
