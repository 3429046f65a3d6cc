import datetime

from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

# A quote's numbers are kept as the feed wrote them ("1.18424", "+5.0"): the ticker shows the
# precision the market data has, and nothing here computes with them.
NUMBER = RegexValidator(
    r"^[+-]?[0-9]{1,12}(\.[0-9]{1,8})?$", _("Write a number such as 15676.9 or -0.00024.")
)


class Quote(models.Model):
    """The last quote of one instrument for the ticker (seed: the strip above the sign-in box)."""

    symbol = models.CharField(_("symbol"), max_length=20, unique=True)
    name = models.CharField(_("instrument name"), max_length=100, blank=True)
    last = models.CharField(_("last"), max_length=24, validators=[NUMBER])
    change = models.CharField(_("change"), max_length=24, validators=[NUMBER])
    percent = models.CharField(_("change (%)"), max_length=24, blank=True, validators=[NUMBER])
    as_of = models.DateTimeField(_("as of"))
    position = models.PositiveSmallIntegerField(
        _("position"), default=0, help_text=_("Order in the ticker, smallest first.")
    )

    class Meta:
        ordering = ["position", "symbol"]
        verbose_name = _("quote")
        verbose_name_plural = _("quotes")

    def __str__(self):
        return self.symbol

    def clean(self):
        if self.last and self.last.startswith(("+", "-")):
            raise ValidationError({"last": _("The last price has no sign.")})
        if self.as_of and not plausible_time(self.as_of):
            raise ValidationError({"as_of": _("A time between the year 2000 and tomorrow.")})


def plausible_time(when) -> bool:
    """A quote's time: from 2000 to tomorrow. The database stores years the driver cannot
    read back (year 1, BC), which would break every page's ticker."""
    earliest = datetime.datetime(2000, 1, 1, tzinfo=datetime.UTC)
    return earliest <= when <= timezone.now() + datetime.timedelta(days=1)
