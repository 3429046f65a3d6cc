from django.contrib import admin

from accounts.admin import OnlyWhatAdminShows
from backoffice.models import Quote


@admin.register(Quote)
class QuoteAdmin(OnlyWhatAdminShows, admin.ModelAdmin):
    """The ticker's quotes: staff correct one by hand; the feed (load_quotes) replaces them."""

    list_display = ["symbol", "name", "last", "change", "percent", "as_of", "position"]
    list_editable = ["position"]
    search_fields = ["symbol", "name"]
    ordering = ["position", "symbol"]
