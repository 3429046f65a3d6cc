import datetime

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts import credentials

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
        # As the feed holds them (backoffice.feeds): on the sign-in page, a right-to-left
        # override or a control character in a name would rewrite what the strip shows.
        unprintable = {
            field: _("Printable characters only (no control or invisible characters).")
            for field in ("symbol", "name")
            if not credentials.shows_as_written(getattr(self, field))
        }
        if unprintable:
            raise ValidationError(unprintable)
        if self.last and self.last.startswith(("+", "-")):
            raise ValidationError({"last": _("The last price has no sign.")})
        if self.as_of and not plausible_time(self.as_of):
            raise ValidationError({"as_of": _("A time between the year 2000 and tomorrow.")})


def plausible_time(when) -> bool:
    """A quote's time: from 2000 to tomorrow. The database stores years the driver cannot
    read back (year 1, BC), which would break every page's ticker."""
    earliest = datetime.datetime(2000, 1, 1, tzinfo=datetime.UTC)
    return earliest <= when <= timezone.now() + datetime.timedelta(days=1)


# An invoice number is part of its page's address (/backoffice/billing/<number>/) and of the
# PDF's file name: letters, digits and a few separators, nothing a URL or a file name escapes.
INVOICE_NUMBER_RE = r"[A-Za-z0-9][A-Za-z0-9._-]{0,31}"
INVOICE_NUMBER_ERROR = _(
    "An invoice number is 1 to 32 letters, digits, dots, hyphens or underscores, starting "
    "with a letter or digit."
)


class Invoice(models.Model):
    """One invoice of the billing system, as its CSV export or staff in admin give it."""

    class Status(models.TextChoices):
        OPEN = "open", _("Unpaid")
        PAID = "paid", _("Paid")
        VOID = "void", _("Cancelled")

    member = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("member"),
        on_delete=models.PROTECT,  # an invoice is a record the billing system keeps
        related_name="invoices",
    )
    number = models.CharField(
        _("invoice number"),
        max_length=32,
        unique=True,
        validators=[RegexValidator(rf"\A{INVOICE_NUMBER_RE}\Z", INVOICE_NUMBER_ERROR)],
    )
    issued = models.DateField(_("issue date"))
    due = models.DateField(_("due date"))
    amount_yen = models.PositiveBigIntegerField(_("amount (yen)"))
    status = models.CharField(
        _("status"), max_length=4, choices=Status.choices, default=Status.OPEN
    )
    created = models.DateTimeField(_("created"), auto_now_add=True)
    updated = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("invoice")
        verbose_name_plural = _("invoices")
        ordering = ["-issued", "-number"]  # newest first, as the billing tab lists them
        indexes = [models.Index(fields=["member", "-issued", "-number"], name="invoice_newest")]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(due__gte=models.F("issued")),
                name="invoice_due_after_issue",
                violation_error_message=_("The due date cannot be before the issue date."),
            ),
            models.CheckConstraint(
                condition=models.Q(status__in=["open", "paid", "void"]),
                name="invoice_status",
                violation_error_message=_("The status is open, paid or void."),
            ),
        ]

    def __str__(self) -> str:
        return self.number

    def is_overdue(self, today: datetime.date | None = None) -> bool:
        """Unpaid after its due date (in the site's time zone, as the member reads dates)."""
        today = today or timezone.localdate()
        return self.status == self.Status.OPEN and self.due < today
