"""`{% load times %}`: times as the member reads them (accounts.times)."""

from django import template

from accounts import times

register = template.Library()


@register.filter
def minute_up(when):
    """`{{ lock.until|minute_up|date:"DATETIME_FORMAT" }}`: when a pause ends, rounded up to
    the minute as the member's message says it."""
    return times.minute_up(when) if when else when
