"""Account emails: rendered in the recipient's language, sent off the request path."""

from django.conf import settings
from django.db import transaction
from django.template.loader import render_to_string
from django.utils import translation

from accounts.tasks import deliver_email


def render_member_email(member, template: str, context: dict | None = None) -> dict:
    """templates/emails/<template>_{subject,body}.txt for `member`, plus an HTML part.

    The member's preferred language wins over whoever triggered the email (a support agent
    reading English still sends a Japanese member Japanese mail).
    """
    context = {"member": member, "site_url": settings.SITE_URL, **(context or {})}
    with translation.override(member.preferred_language):
        subject = render_to_string(f"emails/{template}_subject.txt", context)
        body = render_to_string(f"emails/{template}_body.txt", context)
        subject = " ".join(subject.split())
        html = render_to_string("emails/base.html", {"subject": subject, "body": body})
    return {"subject": subject, "body": body, "html": html}


def send_member_email(member, template: str, context: dict | None = None, *, to: str = ""):
    """Queue the rendered email after the current transaction commits, so a rolled-back
    change sends nothing. The queue stores what it sends: never put a working link (reset,
    email confirmation) in `context`: accounts.tasks makes those at delivery."""
    address = to or member.email
    if not address:
        return
    message = render_member_email(member, template, context)
    transaction.on_commit(lambda: deliver_email.enqueue(to=[address], **message))
