"""What the worker (`manage.py db_worker`) does, and how it keeps mail from being lost.

django-tasks-db runs a task once: a task that raises is marked failed and stays so. Mail must
not be lost to a mail server that is down for an hour, so a failed task of ours is put back
in the queue with a growing delay (retry_failed) until JENCO_TASK_RETRY_HOURS after it was
queued; after that it stays failed, in the table, logged at ERROR. A worker killed in the
middle of a task leaves its row RUNNING for ever: housekeeping (requeue_stale) queues such a
row again once it has run longer than any task can (JENCO_TASK_TIMEOUT_SECONDS).

The mail tasks make their link or code in the worker and send it with deliver_email.call,
in the same task: a failed send fails the whole task, so the retry makes the link or code
again (a retry voids the code or confirmation link an earlier try may have drawn).
"""

import datetime
import logging
import sys

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import DatabaseError
from django.db.models import Q
from django.dispatch import receiver
from django.tasks import TaskResultStatus, task
from django.tasks.signals import log_task_finished, task_finished
from django.utils import timezone

from accounts import throttle

logger = logging.getLogger(__name__)

# A mail a member waits for on a page (a mailbox code, a reset, registration or email-change
# link) goes ahead of the notices queued before it: a burst of notices (ten view-only
# sign-ins by each of many members) would otherwise hold back every code behind it. The
# worker takes the highest priority first (django-tasks-db), the oldest first within one.
WAITED_FOR = 10


@task
def deliver_email(
    *,
    to: list[str],
    subject: str,
    body: str,
    html: str = "",
    member_pk: int | None = None,
    notice: str = "",
) -> None:
    """Send one rendered email through Django's mail API (any django-anymail provider).

    A notice to a member (`notice`, its template, to `member_pk`: accounts.emails
    .send_member_email) is sent only while they have had fewer than
    JENCO_NOTICES_PER_MEMBER_HOUR of its kind this hour: one client signing in view-only 12
    times a second queued a mail each, ahead of every member's mailbox codes and reset links
    (helper-134). Past it the notice is dropped here, quickly; what it said is in the
    member's Activity (the security log). Counted here, not in the request, whose statements
    a sign-in's budget counts (tests/test_cost.py)."""
    kept_back = f"{member_pk}/{notice}"
    if notice and throttle.over_limit(
        "member-notices", kept_back, settings.JENCO_NOTICES_PER_MEMBER_HOUR, 60 * 60
    ):
        logger.info("notice not mailed, the hour's limit of its kind reached: %s", kept_back)
        return
    message = EmailMultiAlternatives(subject=subject, body=body, to=to)
    if html:
        message.attach_alternative(html, "text/html")
    message.send()


@task(priority=WAITED_FOR)
def send_reset_link(*, what: str, member_id: str, email: str, ip: str | None, user_agent: str):
    """Look the member up and mail the link, off the request: a match costs the request
    nothing more than a miss, so its timing tells nobody whether an account exists."""
    from accounts.flows import reset

    reset.send_reset_link(reset.ResetKind.named(what), member_id, email, origin=(ip, user_agent))


@task(priority=WAITED_FOR)
def mail_reset_link(*, what: str, member_pk: int, by_support: bool = False):
    """Make the reset link and send it, here in the worker: a link that would work sits in
    no queue row, only in the member's mailbox."""
    from accounts.flows import reset

    reset.mail_reset_link(reset.ResetKind.named(what), member_pk, by_support=by_support)


@task(priority=WAITED_FOR, takes_context=True)
def mail_email_change_link(context, *, change_pk: int):
    """The confirmation link for a new address, made here in the worker: the queue row holds
    only which request (accounts.EmailChangeRequest) to mail, not even the address."""
    from accounts.flows import email_change

    email_change.mail_email_change_link(change_pk, retry=context.attempt > 1)


@task(priority=WAITED_FOR, takes_context=True)
def mail_mailbox_code(context, *, code_pk: int):
    """Draw the mailbox code and send it, here in the worker: the code exists only in the
    member's mailbox and, as a keyed hash, in our database."""
    from accounts.flows import mailbox

    mailbox.mail_code(code_pk, retry=context.attempt > 1)


@task(priority=WAITED_FOR, takes_context=True)
def mail_registration_link(context, *, registration_pk: int):
    """Mail a registration its link (or, for an address that has an account, say so), made
    here in the worker: the queue row holds only which registration, not the address."""
    from accounts.flows import registration

    registration.mail_registration_link(registration_pk, retry=context.attempt > 1)


# Every task above sends mail or leads to one; each is safe to run again.
RETRIED = {
    t.module_path
    for t in (
        deliver_email,
        send_reset_link,
        mail_reset_link,
        mail_email_change_link,
        mail_mailbox_code,
        mail_registration_link,
    )
}


class WorkerStopped(Exception):
    """What a task that kept killing its worker is marked failed with."""


def retry_delay(attempts: int) -> datetime.timedelta:
    """The wait after the `attempts`-th failed try: 1, 2, 4, 8… times the first, capped."""
    seconds = settings.JENCO_TASK_RETRY_SECONDS * 2 ** min(attempts - 1, 30)
    return datetime.timedelta(seconds=min(seconds, settings.JENCO_TASK_RETRY_MAX_SECONDS))


def next_try(row) -> datetime.datetime | None:
    """When the failed task `row` (a django_tasks_db DBTaskResult) runs again; None: never."""
    if row.task_path not in RETRIED:
        return None
    at = row.finished_at + retry_delay(max(len(row.worker_ids), 1))
    if at > row.enqueued_at + datetime.timedelta(hours=settings.JENCO_TASK_RETRY_HOURS):
        return None
    return at


@receiver(task_finished)
def retry_failed(sender, task_result, **kwargs) -> None:
    """In the worker, right after a task ran: a failed one is queued again (a WARNING), or
    left failed for good (an ERROR with its traceback, which mails the admins). Django's own
    line for a finished task is an ERROR with the traceback for every failed try, which
    mailed the admins at each retry of one message (helper-117): accounts.apps disconnects
    it, and this says it instead for everything but a failed try of ours."""
    row = getattr(task_result, "db_result", None)  # None: another backend (the immediate one)
    if row is None or task_result.status != TaskResultStatus.FAILED:
        log_task_finished(sender, task_result)  # "state=SUCCESSFUL", as Django says it
        return
    try:
        _retry_or_give_up(row, exc_info=sys.exc_info())  # sent while the task's error is handled
    except DatabaseError:
        # The row stays failed; housekeeping (requeue_stale) queues it again.
        logger.exception("Task id=%s could not be queued again", row.id)


def _retry_or_give_up(row, exc_info=None) -> bool:
    from django_tasks_db.models import DBTaskResult

    tries = len(row.worker_ids)
    at = next_try(row)
    if at is None:
        logger.error(
            "Task id=%s path=%s failed %d times and will not be tried again: %s",
            row.id,
            row.task_path,
            tries,
            row.exception_class_path,
            exc_info=exc_info if exc_info and exc_info[0] else None,
        )
        return False
    DBTaskResult.objects.filter(pk=row.pk, status=TaskResultStatus.FAILED).update(
        status=TaskResultStatus.READY, run_after=at, finished_at=None
    )
    logger.warning(
        "Task id=%s path=%s failed (try %d: %s); next try at %s",
        row.id,
        row.task_path,
        tries,
        row.exception_class_path,
        timezone.localtime(at).isoformat(timespec="seconds"),  # Japan time, as the log is
    )
    return True


def requeue_stale() -> int:
    """Queue again what a dead worker left: rows RUNNING for longer than any task runs, and
    failed rows a worker died before it could queue again. Returns how many."""
    from django_tasks_db.models import DBTaskResult

    now = timezone.now()
    give_up_before = now - datetime.timedelta(hours=settings.JENCO_TASK_RETRY_HOURS)
    stale = DBTaskResult.objects.filter(
        status=TaskResultStatus.RUNNING,
        started_at__lt=now - datetime.timedelta(seconds=settings.JENCO_TASK_TIMEOUT_SECONDS),
    )
    # One that has kept killing its worker for the whole retry window stops here.
    for row in stale.filter(enqueued_at__lt=give_up_before):
        logger.error(
            "Task id=%s path=%s was left running by a stopped worker %d times and will not be "
            "tried again",
            row.id,
            row.task_path,
            len(row.worker_ids),
        )
    stale.filter(enqueued_at__lt=give_up_before).update(
        status=TaskResultStatus.FAILED,
        finished_at=now,
        exception_class_path=f"{__name__}.{WorkerStopped.__qualname__}",
        traceback="The worker stopped while it ran this task, every time it was tried.",
    )
    requeued = stale.update(status=TaskResultStatus.READY, run_after=now)
    unfinished = DBTaskResult.objects.filter(
        Q(status=TaskResultStatus.FAILED, task_path__in=RETRIED, enqueued_at__gte=give_up_before)
    )
    for row in unfinished:
        if next_try(row) is not None:
            requeued += _retry_or_give_up(row)
    return requeued


def prune_finished() -> int:
    """Delete finished task rows: done ones after JENCO_TASK_DONE_DAYS, failed ones after
    JENCO_TASK_FAILED_DAYS (kept longer: someone may need to see what was not sent)."""
    from django_tasks_db.models import DBTaskResult

    now = timezone.now()
    deleted, _rows = DBTaskResult.objects.filter(
        Q(
            status=TaskResultStatus.SUCCESSFUL,
            finished_at__lt=now - datetime.timedelta(days=settings.JENCO_TASK_DONE_DAYS),
        )
        | Q(
            status=TaskResultStatus.FAILED,
            finished_at__lt=now - datetime.timedelta(days=settings.JENCO_TASK_FAILED_DAYS),
        )
    ).delete()
    return deleted
