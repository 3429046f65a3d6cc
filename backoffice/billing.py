"""The member's invoices: how an amount reads in each language, and the invoice as a PDF.

The PDF is drawn on our server with ReportLab and one of the Japanese CID fonts every PDF
reader carries (Adobe's Japan1 collection, `HeiseiKakuGo-W5`): nothing is downloaded or
embedded, and Japanese and Latin text come out alike.
"""

import io

from django.db.models import Count, Min, Subquery, Sum
from django.utils import formats, timezone
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfgen import canvas

from backoffice.models import Invoice

PER_PAGE = 20  # invoices on one page of the billing tab
PDF_FONT = "HeiseiKakuGo-W5"


def format_yen(amount: int, language: str | None = None) -> str:
    """12,345円 in Japanese, ¥12,345 in English."""
    digits = f"{amount:,}"
    if (language or get_language() or "ja").startswith("ja"):
        return f"{digits}円"
    return f"¥{digits}"


def status_words(invoice: Invoice) -> str:
    """The status as the member reads it, with the overdue mark for an unpaid one."""
    words = invoice.get_status_display()
    if invoice.is_overdue():
        words = f"{words} ({_('Overdue')})"
    return str(words)


def invoice_pdf(invoice: Invoice) -> bytes:
    """The invoice on one A4 page, in the active language."""
    if PDF_FONT not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(UnicodeCIDFont(PDF_FONT))
    buffer = io.BytesIO()
    page = canvas.Canvas(buffer, pagesize=A4)
    title = _("Invoice")
    page.setTitle(f"{title} {invoice.number}")
    page.setAuthor("JENCO")
    width, height = A4
    left, right, y = 20 * mm, width - 20 * mm, height - 30 * mm

    page.setFont(PDF_FONT, 22)
    page.drawString(left, y, title)
    page.setFont(PDF_FONT, 11)
    page.drawRightString(right, y, "JENCO")
    y -= 8 * mm
    page.line(left, y, right, y)
    y -= 12 * mm

    member = invoice.member
    rows = [
        (_("Invoice number"), invoice.number),
        (_("Member ID"), member.member_id),
        (_("Name"), member.name or "—"),
        (_("Issue date"), formats.date_format(invoice.issued, "DATE_FORMAT")),
        (_("Due date"), formats.date_format(invoice.due, "DATE_FORMAT")),
        (_("Status"), status_words(invoice)),
    ]
    for label, value in rows:
        page.setFont(PDF_FONT, 10)
        page.drawString(left, y, label)
        page.setFont(PDF_FONT, 12)
        page.drawString(left + 45 * mm, y, value)
        y -= 9 * mm

    y -= 6 * mm
    page.line(left, y + 6 * mm, right, y + 6 * mm)
    page.setFont(PDF_FONT, 12)
    page.drawString(left, y - 4 * mm, _("Amount"))
    page.setFont(PDF_FONT, 20)
    page.drawRightString(right, y - 5 * mm, format_yen(invoice.amount_yen))
    page.showPage()
    page.save()
    return buffer.getvalue()


LATEST_ON_DASHBOARD = 3


def summary(member) -> dict:
    """What the dashboard shows: the latest invoices, and what is still to pay and by when.

    One query: the unpaid totals ride along on the latest rows as subqueries (a member with
    no invoice has nothing unpaid either), so the dashboard keeps its query budget
    (tests/test_cost.py).
    """
    unpaid = (
        Invoice.objects.filter(member=member, status=Invoice.Status.OPEN)
        .order_by()
        .values("member")
    )
    latest = list(
        Invoice.objects.filter(member=member).annotate(
            unpaid_total=Subquery(unpaid.annotate(total=Sum("amount_yen")).values("total")),
            unpaid_count=Subquery(unpaid.annotate(count=Count("pk")).values("count")),
            next_due=Subquery(unpaid.annotate(earliest=Min("due")).values("earliest")),
        )[:LATEST_ON_DASHBOARD]
    )
    first = latest[0] if latest else None
    next_due = first.next_due if first else None
    return {
        "latest": latest,
        "unpaid_total": (first and first.unpaid_total) or 0,
        "unpaid_count": (first and first.unpaid_count) or 0,
        "next_due": next_due,
        "overdue": next_due is not None and next_due < timezone.localdate(),
    }
