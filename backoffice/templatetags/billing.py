from django import template
from django.utils.html import format_html

from backoffice.billing import format_yen, summary

register = template.Library()


@register.filter
def yen(amount: int) -> str:
    """{{ invoice.amount_yen|yen }}: 12,345円 on a Japanese page, ¥12,345 on an English one."""
    return format_yen(amount)


@register.filter
def yen_unbroken(amount: int) -> str:
    """The amount in a sentence, kept on one line: 「合計 1,243,367円。」 broke before its 円
    at 375 px (helper-151)."""
    return format_html('<span class="amount">{}</span>', format_yen(amount))


@register.inclusion_tag("backoffice/_billing_summary.html")
def billing_summary(member) -> dict:
    """The dashboard's card: latest invoices and what is due (two queries)."""
    return summary(member)
