"""Times a member reads on a page or in a message."""

import datetime

from django.utils import formats, timezone
from django.utils.translation import pgettext


def try_again_at(when: datetime.datetime) -> str:
    """When a member may try again: local time, rounded UP to the minute (a wait ending at
    13:05:20 reads 13:06, since trying at 13:05 would still be refused), with the date when
    it is not today. The zone is named in both languages (13:06 JST, 日本時間 13:06): the
    reader may be abroad, and a wait is a time they act on."""
    when = minute_up(when)
    if when.date() == timezone.localdate():
        time = formats.time_format(when, "TIME_FORMAT")
    else:
        time = formats.date_format(when, "DATETIME_FORMAT")
    # English's formats name the zone already (jenco/formats/en: JST); Japanese's do not,
    # where dates in lists and on the dashboard read best bare.
    return pgettext("a time to try again at, named as Japan time", "%(time)s") % {"time": time}


def sent_at(when: datetime.datetime) -> str:
    """When something was sent, as its email would show it: local time to the minute, with
    the date when it is not today, the zone named as try_again_at names it."""
    when = timezone.localtime(when)
    if when.date() == timezone.localdate():
        time = formats.time_format(when, "TIME_FORMAT")
    else:
        time = formats.date_format(when, "DATETIME_FORMAT")
    return pgettext("a time something was sent at, named as Japan time", "%(time)s") % {
        "time": time
    }


def minute_up(when: datetime.datetime) -> datetime.datetime:
    """Local time rounded up to the minute: the first minute a try is no longer refused. What
    the member reads (try_again_at) and what support reads them in admin are the same."""
    when = timezone.localtime(when)
    if when.second or when.microsecond:
        when = when.replace(second=0, microsecond=0) + datetime.timedelta(minutes=1)
    return when
