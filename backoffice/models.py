import datetime

from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

# An invoice number is part of its page's address (/backoffice/billing/<number>/) and of the
# PDF's file name: letters, digits and a few separators, nothing a URL or a file name escapes.
NUMBER_RE = r"[A-Za-z0-9][A-Za-z0-9._-]{0,31}"
NUMBER_FORMAT_ERROR = _(
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
        validators=[RegexValidator(rf"\A{NUMBER_RE}\Z", NUMBER_FORMAT_ERROR)],
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
