from django.contrib import admin

from accounts.admin import OnlyWhatAdminShows
from backoffice.models import Quote


@admin.register(Quote)
class QuoteAdmin(OnlyWhatAdminShows, admin.ModelAdmin):
    """Staff correct or add a quote by hand; `manage.py load_quotes` loads a feed. Saving
    or deleting one refreshes the ticker (backoffice.ticker)."""

    list_display = ["symbol", "name", "last", "change", "percent", "as_of", "position"]
    search_fields = ["symbol", "name"]
    fields = ["symbol", "name", "last", "change", "percent", "as_of", "position"]
