from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AccountsConfig(AppConfig):
    name = "accounts"
    # Not "Members" (「会員」): the trail read 「会員 › 会員」, the section and its first list.
    verbose_name = _("Members and security")

    def ready(self):
        from django.contrib.auth.models import update_last_login
        from django.contrib.auth.signals import user_logged_in
        from django.tasks.signals import log_task_finished, task_finished

        # Registers checks, connects signals, adds the `in_network` lookup.
        from accounts import checks, ip_lookups, lockout  # noqa: F401
        from accounts.flows.sign_in import last_sign_in_now
        from jenco import randomness

        # The last sign-in in one plain UPDATE rather than a model save (issue 13), under
        # Django's own dispatch_uid: whichever app is ready first, only ours stays connected
        # (tests/test_sign_in_sql.py).
        user_logged_in.disconnect(update_last_login, dispatch_uid="update_last_login")
        user_logged_in.connect(last_sign_in_now, dispatch_uid="update_last_login")

        # Django logs every failed task at ERROR with its traceback, a mail to the admins for
        # each retry of one message: accounts.tasks.retry_failed says it instead.
        task_finished.disconnect(log_task_finished)

        _name_axes_in_our_languages()
        randomness.draw_csrf_tokens_at_once()


def _name_axes_in_our_languages() -> None:
    """django-axes names its admin section and each failure in English only ("Axes",
    "Attempted Access: 2026-12-02 13:20:05.325007+00:00"): named here in the agent's language
    (its other labels are in our catalogues: accounts/outside_words.py)."""
    from axes.models import AccessAttempt
    from django.apps import apps
    from django.utils import formats, timezone
    from django.utils.translation import gettext

    from accounts.addresses import shown_network

    apps.get_app_config("axes").verbose_name = _("Sign-in lockouts")

    def title(attempt) -> str:
        when = formats.date_format(timezone.localtime(attempt.attempt_time), "DATETIME_FORMAT")
        where = {"address": shown_network(attempt.ip_address) or "—", "when": when}
        if not attempt.username:  # the address alone: wrong captchas, default-password sign-ins
            return gettext("From %(address)s, %(when)s") % where
        return gettext("%(member_id)s from %(address)s, %(when)s") % {
            "member_id": attempt.username,
            **where,
        }

    AccessAttempt.__str__ = title
