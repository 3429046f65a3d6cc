from django.utils.functional import SimpleLazyObject

from backoffice import ticker


def quotes(request):
    """`ticker_strip`, the strip in every page's header (its HTML), made only where a page
    shows it."""
    return {"ticker_strip": SimpleLazyObject(ticker.strip)}
