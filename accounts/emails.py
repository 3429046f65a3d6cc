"""Account emails: rendered in the recipient's language, sent off the request path."""

import re

from django.conf import settings
from django.db import transaction
from django.template import Context, engines
from django.template.loader import render_to_string
from django.utils import translation
from django.utils.html import escape, linebreaks
from django.utils.safestring import SafeString, mark_safe

from accounts.tasks import deliver_email


def render_member_email(member, template: str, context: dict | None = None) -> dict:
    """templates/emails/<template>_{subject,body}.txt for `member`, plus an HTML part.

    The member's preferred language wins over whoever triggered the email (a support agent
    reading English still sends a Japanese member Japanese mail).
    """
    context = {
        "member": member,
        "site_url": settings.SITE_URL,
        "support_email": settings.JENCO_SUPPORT_EMAIL,
        **(context or {}),
    }
    with translation.override(member.preferred_language):
        subject = _render_text(f"emails/{template}_subject.txt", context)
        body = _render_text(f"emails/{template}_body.txt", context)
        # One line: nothing typed into a name or address can start another header.
        subject = " ".join(subject.split())
        html = render_to_string(
            "emails/base.html", {"subject": subject, "body_html": html_body(body)}
        )
    return {"subject": subject, "body": body, "html": html}


def html_body(body: str) -> SafeString:
    """The plain-text body as the HTML part's paragraphs: all of it escaped, and only our own
    site's addresses (SITE_URL) made links. A name or an address someone typed stays text,
    whatever it holds ("Visit https://evil.example now"), so no mail we send carries a link
    of a stranger's choosing."""
    ours = re.escape(escape(settings.SITE_URL))
    # In the escaped text an address ends at a space or at any entity but &amp; (a quote or
    # bracket typed after it), and not on a full stop or comma closing its sentence.
    linked = re.sub(
        rf"{ours}(?:/(?:&amp;|[^\s&<>\"'])*(?<![.,;:!?)]))?",
        lambda found: f'<a href="{found[0]}">{found[0]}</a>',
        escape(body),
    )
    return mark_safe(linebreaks(linked))  # noqa: S308 (escaped above; only our links added)


def _render_text(name: str, context: dict) -> str:
    """A plain-text part, exactly as typed: O'Brien & Co stays O'Brien & Co.

    Rendered without HTML escaping, and returned as a plain str rather than the SafeString
    a template gives: marked safe, the member's name or a new address would go into the
    HTML part as live markup. base.html escapes all of it.
    """
    template = engines["django"].engine.get_template(name)
    rendered = template.render(Context(context, autoescape=False))
    return "".join(rendered)  # a copy that is an ordinary str, no longer marked safe


def send_member_email(member, template: str, context: dict | None = None, *, to: str = ""):
    """Queue the rendered email after the current transaction commits, so a rolled-back
    change sends nothing. The queue stores what it sends: never put a working link (reset,
    email confirmation) in `context`: accounts.tasks makes those at delivery. The worker
    mails a member at most JENCO_NOTICES_PER_MEMBER_HOUR of each kind an hour (`notice`):
    of each kind, so that ten cheap ones (view-only sign-ins) cannot keep back another (a
    changed password)."""
    address = to or member.email
    if not address:
        return
    message = render_member_email(member, template, context)
    mail = {"to": [address], "member_pk": member.pk, "notice": template, **message}
    transaction.on_commit(lambda: deliver_email.enqueue(**mail))
