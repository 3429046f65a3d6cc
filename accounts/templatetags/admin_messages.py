from django import template
from django.utils.text import capfirst

register = template.Library()


@register.filter
def capfirst_unless_address(message) -> str:
    """Admin's capfirst for its messages, except one that begins with an email address (the
    Japanese sentence puts it first): support reads the registered address out to the member
    as it is registered, not as "Taro@example.com"."""
    text = str(message)
    words = text.split(maxsplit=1)
    return text if words and "@" in words[0] else capfirst(text)
