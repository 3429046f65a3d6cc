from django.urls import path, register_converter
from django.urls.converters import StringConverter

from backoffice import billing_views, security_views, views
from backoffice.models import INVOICE_NUMBER_RE


class InvoiceNumber(StringConverter):
    """Only what an invoice number can be: anything else (a NUL, which PostgreSQL refuses
    in a query with a 500) is a 404 before it reaches the database."""

    regex = INVOICE_NUMBER_RE


register_converter(InvoiceNumber, "invoice_number")

app_name = "backoffice"

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("first-sign-in/mailbox/", views.first_sign_in_mailbox, name="first-sign-in-mailbox"),
    path("profile/", views.profile, name="profile"),
    path("profile/pin/", views.change_pin, name="profile-pin"),
    path("profile/password/", views.change_password, name="profile-password"),
    path("profile/sub-password/", views.change_sub_password, name="profile-sub-password"),
    path("profile/email/", views.change_email, name="profile-email"),
    path("profile/email/confirm/<str:token>/", views.confirm_email, name="profile-email-confirm"),
    path("security/", security_views.security, name="security"),
    path("security/sessions/end/", security_views.end_session, name="end-session"),
    path(
        "security/sessions/end-others/",
        security_views.end_other_sessions,
        name="end-other-sessions",
    ),
    path("security/activity/", security_views.activity, name="activity"),
    path(
        "security/two-step/authenticator/",
        security_views.two_step_setup,
        name="two-step-setup",
    ),
    path("security/two-step/off/", security_views.two_step_off, name="two-step-off"),
    path(
        "security/two-step/recovery-codes/",
        security_views.recovery_codes,
        name="recovery-codes",
    ),
    path("security/passkeys/add/", security_views.passkey_add, name="passkey-add"),
    path(
        "security/passkeys/<int:passkey_id>/remove/",
        security_views.passkey_remove,
        name="passkey-remove",
    ),
    path("billing/", billing_views.invoices, name="billing"),
    path("billing/<invoice_number:number>/", billing_views.invoice, name="invoice"),
    path("billing/<invoice_number:number>/pdf/", billing_views.invoice_pdf, name="invoice-pdf"),
]
