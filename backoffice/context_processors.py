from django.utils.functional import SimpleLazyObject

from backoffice import ticker


def quotes(request):
    """`ticker_quotes` for the strip in every page's header, read only where a page shows it."""
    return {"ticker_quotes": SimpleLazyObject(ticker.quotes)}
