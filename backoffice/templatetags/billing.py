from django import template

from backoffice.billing import format_yen

register = template.Library()


@register.filter
def yen(amount: int) -> str:
    """{{ invoice.amount_yen|yen }}: 12,345円 on a Japanese page, ¥12,345 on an English one."""
    return format_yen(amount)
