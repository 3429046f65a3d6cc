import datetime
import re
from decimal import Decimal, InvalidOperation

from django import forms
from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

# A price as a feed writes it: ASCII digits, an optional sign and decimal point, no exponent,
# no thousands separator. 12 digits before the point and 8 after cover an index, a currency
# pair and a coin.
_NUMBER = re.compile(r"[+-]?[0-9]{1,12}(?:\.[0-9]{1,8})?")
NUMBER_ERROR = _("“%(value)s” is not a number such as 1.18424 or -479.94.")


class ExactDecimalField(models.Field):
    """A Decimal kept exactly as the feed gave it: 11.00 stays 11.00 and 1.18424 stays 1.18424.

    Stored as text because a DecimalField pads every value to one scale (11.00000000), and
    SQLite keeps it as a float; the ticker shows the precision the feed chose (the seed shows
    `+5.0` beside `+11.00`).
    """

    description = _("Decimal number, as written")
    default_error_messages = {"null": models.Field.default_error_messages["blank"]}

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("max_length", 24)
        super().__init__(*args, **kwargs)

    def deconstruct(self):
        name, path, args, kwargs = super().deconstruct()
        kwargs.pop("max_length", None)
        return name, path, args, kwargs

    def get_internal_type(self):
        return "CharField"

    def from_db_value(self, value, expression, connection):
        return None if value is None else Decimal(value)

    def to_python(self, value):
        if value is None or value == "":
            return None
        if isinstance(value, Decimal) and value.is_finite():
            value = format(value, "f")
        if not isinstance(value, str) or not _NUMBER.fullmatch(value):
            raise ValidationError(NUMBER_ERROR, code="invalid", params={"value": value})
        try:
            return Decimal(value)
        except InvalidOperation:  # cannot happen after the pattern; said, never a 500
            raise ValidationError(NUMBER_ERROR, code="invalid", params={"value": value}) from None

    def get_prep_value(self, value):
        value = self.to_python(value)
        return None if value is None else format(value, "f")

    def formfield(self, **kwargs):
        return super().formfield(
            form_class=forms.CharField,
            max_length=self.max_length,
            empty_value=None if self.null else "",
            widget=forms.TextInput(attrs={"inputmode": "decimal"}),
            **kwargs,
        )

    def value_to_string(self, obj):
        value = self.value_from_object(obj)
        return "" if value is None else format(value, "f")


class Quote(models.Model):
    """The last price of one instrument, shown in the ticker (seed p.1): one row per symbol,
    replaced by each load (`manage.py load_quotes`) or edit in admin."""

    symbol = models.CharField(
        _("symbol"),
        max_length=20,
        unique=True,
        validators=[
            RegexValidator(
                r"\A[A-Za-z0-9^][A-Za-z0-9._/^=-]*\Z",
                _("A symbol is letters, digits and . _ / ^ = - only, such as EURUSD."),
            )
        ],
    )
    name = models.CharField(_("name"), max_length=64)
    last = ExactDecimalField(_("last price"))
    change = ExactDecimalField(_("change"))
    percent = ExactDecimalField(_("change (%)"), null=True, blank=True)
    as_of = models.DateTimeField(_("as of"))
    position = models.PositiveSmallIntegerField(
        _("position in the ticker"),
        default=0,
        help_text=_("The ticker shows the first four quotes in this order."),
    )

    class Meta:
        ordering = ["position", "symbol"]
        verbose_name = _("quote")
        verbose_name_plural = _("quotes")

    def __str__(self):
        return self.symbol

    def clean(self):
        # A clock a little ahead is a clock; a day ahead is a broken feed.
        if self.as_of and self.as_of > timezone.now() + datetime.timedelta(days=1):
            raise ValidationError({"as_of": _("This time is in the future.")})
        if self.name and not self.name.isprintable():
            raise ValidationError({"name": _("The name holds a control character.")})
        # Both say which way the price moved: a feed that disagrees with itself is broken.
        numbers = (self.change, self.percent)
        if all(isinstance(n, Decimal) for n in numbers) and self.change * self.percent < 0:
            raise ValidationError(
                {"percent": _("The change and the percentage point different ways.")}
            )
