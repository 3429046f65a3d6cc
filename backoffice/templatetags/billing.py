from django import template

from backoffice.billing import format_yen, summary

register = template.Library()


@register.filter
def yen(amount: int) -> str:
    """{{ invoice.amount_yen|yen }}: 12,345円 on a Japanese page, ¥12,345 on an English one."""
    return format_yen(amount)


@register.inclusion_tag("backoffice/_billing_summary.html")
def billing_summary(member) -> dict:
    """The dashboard's card: latest invoices and what is due (two queries)."""
    return summary(member)
