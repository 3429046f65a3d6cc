from django.core.mail import EmailMultiAlternatives
from django.tasks import task


@task
def deliver_email(*, to: list[str], subject: str, body: str, html: str = "") -> None:
    """Send one rendered email through Django's mail API (any django-anymail provider)."""
    message = EmailMultiAlternatives(subject=subject, body=body, to=to)
    if html:
        message.attach_alternative(html, "text/html")
    message.send()


@task
def send_reset_link(*, what: str, member_id: str, email: str, ip: str | None, user_agent: str):
    """Look the member up and mail the link, off the request: a match costs the request
    nothing more than a miss, so its timing tells nobody whether an account exists."""
    from accounts import flows

    flows.send_reset_link(what, member_id, email, origin=(ip, user_agent))


@task
def mail_reset_link(*, what: str, member_pk: int):
    """Make the reset link and send it, here in the worker: a link that would work sits in
    no queue row, only in the member's mailbox."""
    from accounts import flows

    flows.mail_reset_link(what, member_pk)


@task
def mail_email_change_link(*, change_pk: int):
    """The confirmation link for a new address, made here in the worker: the queue row holds
    only which request (accounts.EmailChangeRequest) to mail, not even the address."""
    from accounts import flows

    flows.mail_email_change_link(change_pk)


@task
def mail_mailbox_code(*, code_pk: int):
    """Draw the mailbox code and send it, here in the worker: the code exists only in the
    member's mailbox and, as a keyed hash, in our database."""
    from accounts import mailbox

    mailbox.mail_code(code_pk)
