from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

# A quote's numbers are kept as the feed wrote them ("1.18424", "+5.0"): the ticker shows the
# precision the market data has, and nothing here computes with them.
NUMBER = RegexValidator(
    r"^[+-]?\d{1,12}(\.\d{1,8})?$", _("Write a number such as 15676.9 or -0.00024.")
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
