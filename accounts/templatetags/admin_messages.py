from django import template
from django.template.defaultfilters import stringfilter
from django.utils.text import capfirst

register = template.Library()


@register.filter(is_safe=True)
@stringfilter
def capfirst_unless_address(message: str) -> str:
    """Admin's capfirst for its messages, except one that begins with an email address (the
    Japanese sentence puts it first): support reads the registered address out to the member
    as it is registered, not as "Taro@example.com". A message admin marked safe (its "changed
    “<a href=…>JPN…</a>”" after a save) stays safe, as with capfirst."""
    words = message.split(maxsplit=1)
    return message if words and "@" in words[0] else capfirst(message)
