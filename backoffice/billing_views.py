"""Account > Profile > 請求書 (Billing): the member's own invoices, one invoice, its PDF.

Every lookup is filtered by the signed-in member, so another member's invoice number is a
404, exactly like a number that does not exist.
"""

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from accounts import view_only
from backoffice import billing
from backoffice.models import Invoice


@view_only.readable
@never_cache
@login_required
@require_safe
def invoices(request: HttpRequest) -> HttpResponse:
    # get_page: a page number that is not a number shows the first page, one past the end
    # the last, so a stale or hand-typed ?page= never fails.
    page = Paginator(Invoice.objects.filter(member=request.user), billing.PER_PAGE).get_page(
        request.GET.get("page")
    )
    return render(request, "backoffice/billing.html", {"tab": "billing", "page": page})


@view_only.readable
@never_cache
@login_required
@require_safe
def invoice(request: HttpRequest, number: str) -> HttpResponse:
    invoice = get_object_or_404(Invoice, member=request.user, number=number)
    return render(request, "backoffice/invoice.html", {"invoice": invoice})


@view_only.readable
@never_cache
@login_required
@require_safe
def invoice_pdf(request: HttpRequest, number: str) -> HttpResponse:
    invoice = get_object_or_404(
        Invoice.objects.select_related("member"), member=request.user, number=number
    )
    response = HttpResponse(billing.invoice_pdf(invoice), content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="invoice-{invoice.number}.pdf"'
    return response
