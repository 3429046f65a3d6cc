from django.core.mail import EmailMultiAlternatives
from django.tasks import task


@task
def deliver_email(*, to: list[str], subject: str, body: str, html: str = "") -> None:
    """Send one rendered email through Django's mail API (any django-anymail provider)."""
    message = EmailMultiAlternatives(subject=subject, body=body, to=to)
    if html:
        message.attach_alternative(html, "text/html")
    message.send()
