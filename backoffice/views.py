import datetime

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods, require_safe

from accounts import credentials, links, times, view_only
from accounts.flows import email_change, mailbox, password, pin, sessions
from accounts.flows import sign_in as sign_in_flow
from accounts.flows.credential_change import ChangedMeanwhile
from accounts.forms import (
    WITHOUT_PIN,
    EmailChangeForm,
    MailboxCodeForm,
    PasswordChangeForm,
    PinChangeForm,
    SubPasswordForm,
    SubPasswordRemoveForm,
    email_change_wait,
)

CHANGED_MEANWHILE = gettext_lazy(
    "This was changed a moment ago (perhaps the form was sent twice, or from another "
    "device). Nothing more was changed: check that it is as you want it."
)


def _bound(request: HttpRequest):
    return request.POST if request.method == "POST" else None


def _confirmed(form, request: HttpRequest) -> bool:
    """Valid, and confirmed with the right PIN, or password for an account without a PIN
    (checked last: each check costs a try)."""
    if request.method != "POST" or not form.is_valid():
        return False
    checked = pin.confirm_change(request, request.user, form.pin_typed())
    if not checked.right:
        form.refuse_pin(checked)
    return checked.right and form.after_pin()


def _applied(form, change, request: HttpRequest, field: str) -> bool | None:
    """Validate, confirm the PIN, then apply the change: whether it signed other devices out
    (a PIN or password change's flow says), or None (with a form message) if not applied."""
    if not _confirmed(form, request):
        return None
    try:
        return bool(change(request, request.user, form.cleaned_data[field]))
    except ChangedMeanwhile:
        form.add_error(None, CHANGED_MEANWHILE)
        return None


@view_only.readable
@never_cache
@login_required
@require_safe
def dashboard(request: HttpRequest) -> HttpResponse:
    """The home: what the sign-in noted in the session (the sign-in before this one, the
    failures since), the migration, the latest invoices. No query of its own but the
    billing card's, and no write (tests/test_cost.py)."""
    previous = request.session.get(sign_in_flow.PREVIOUS_SIGN_IN)
    failed = request.session.get(sign_in_flow.FAILED_SINCE)
    # A session from before this count was kept: every failure unanswered, as it said.
    unanswered = request.session.get(sign_in_flow.FAILED_SINCE_UNANSWERED, failed)
    context = {
        "previous_sign_in": datetime.datetime.fromisoformat(previous) if previous else None,
        "failed_since": failed,
        "failed_unanswered": unanswered,
        "failed_hint": _failures_hint(request, unanswered) if failed else None,
        # Where a member from JA stands (the gate keeps one who is not done to the steps).
        "migration": credentials.migration_step(request.user)
        if request.user.origin == request.user.Origin.JA
        else None,
    }
    return render(request, "backoffice/dashboard.html", context)


def _failures_hint(request: HttpRequest, unanswered: int) -> str:
    """What to do about the failed sign-ins the dashboard shows (helper-116: told to change a
    password just reset, or in a session that cannot change it). A wrong two-step code was
    typed after the right password: not a guess, but someone who may know it."""
    if not unanswered:
        return _("Your password has been changed since then.")
    if unanswered <= request.session.get(sign_in_flow.OWN_WRONG_CODES, 0):
        # Only the codes typed wrong before the right one here (helper-168: one typo warned
        # of someone guessing the password).
        return _("They were the wrong two-step codes typed in this sign-in, before the right one.")
    second_step = request.session.get(sign_in_flow.FAILED_AT_SECOND_STEP, 0)
    if second_step and view_only.active(request):
        return _(
            "%(count)d of them got past your main password and failed at the two-step code. "
            "If that was not you, someone knows it: sign in with it and change it now."
        ) % {"count": second_step}
    if second_step:
        return _(
            "%(count)d of them got past your password and failed at the two-step code. If "
            "that was not you, someone knows your password: change it now."
        ) % {"count": second_step}
    if view_only.active(request):
        return _(
            "If that was not you, someone may be trying to guess your password: sign in with "
            "your main password to change it."
        )
    return _(
        "If that was not you, someone may be trying to guess your password: consider changing it."
    )


@sensitive_post_parameters("code")
@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def first_sign_in_mailbox(request: HttpRequest) -> HttpResponse:
    """After a sign-in on the published password: the code from the mailbox, before the PIN
    or, once the PIN is changed, the password."""
    if not mailbox.due(request):
        return redirect("backoffice:dashboard")  # the gate forwards to whatever is due
    if request.method == "POST" and "resend" in request.POST:
        _say_sent(request, mailbox.send_code(request, request.user))
        return redirect("backoffice:first-sign-in-mailbox")
    form = MailboxCodeForm(_bound(request))
    if request.method == "POST" and form.is_valid():
        checked = mailbox.check_code(request, request.user, form.cleaned_data["code"])
        if checked.result is mailbox.Check.PROVED:
            messages.success(request, _("Thank you. Your email address is confirmed."))
            return redirect("backoffice:dashboard")
        form.add_error("code", _code_problem(checked))
    code = mailbox.session_code(request, request.user)
    context = {
        "form": form,
        "email": credentials.mask_email(request.user.email),
        "expires": code.expires,
        "had_code": code.sent,
        "send_at": times.try_again_at(code.send_at) if code.send_at else None,
        "runs_out_first": code.runs_out_first,
        "paused": _paused(code.paused_until) if code.paused_until else None,
        "minutes": settings.JENCO_MAILBOX_CODE_MINUTES,
    }
    return render(request, "backoffice/first_sign_in_mailbox.html", context)


def _code_problem(checked: mailbox.Checked) -> str:
    match checked.result:
        case mailbox.Check.WRONG:
            return _("The code is not right. You can try %(left)s more times.") % {
                "left": checked.tries_left
            }
        case mailbox.Check.REPLACED:
            return _(
                "That code is from an earlier email: a newer code, sent at %(time)s, replaced "
                "it. Enter the code from the latest email. You can try %(left)s more times."
            ) % {"time": times.sent_at(checked.newest_sent), "left": checked.tries_left}
        case mailbox.Check.USED_UP:
            return _("Too many wrong codes. Send yourself a new code and enter that one.")
        case mailbox.Check.EXPIRED:
            return _("The code has expired. Send yourself a new code and enter that one.")
        case mailbox.Check.PAUSED:
            return _paused(checked.until)
        case mailbox.Check.ON_ITS_WAY:
            return _(
                "Your code is on its way: the email can take a minute or two to arrive. "
                "Enter the code from the newest email."
            )
    return _("There is no code waiting for you. Send yourself a new code.")


def _paused(until) -> str:
    # The page puts the way in, "Forgot password?", as a link right below.
    return _(
        "Too many wrong codes were typed for this account in the last hour. For your "
        "safety, codes are checked again from %(time)s."
    ) % {"time": times.try_again_at(until)}


def _say_sent(request: HttpRequest, sending: mailbox.Sending) -> None:
    if sending.paused:
        return  # the page it goes back to says so, with the way in
    if sending.sent:
        messages.success(
            request,
            _("We sent a new code to %(email)s.")
            % {"email": credentials.mask_email(request.user.email)},
        )
    elif sending.account_limit:
        messages.error(
            request,
            _(
                "Too many codes were asked for this account in the last hour. You can ask "
                "for a new one at %(time)s."
            )
            % {"time": times.try_again_at(sending.next_at)},
        )
    elif sending.next_at:
        messages.error(
            request,
            _("A code was sent a short while ago. You can ask for a new one at %(time)s.")
            % {"time": times.try_again_at(sending.next_at)},
        )


@view_only.readable
@never_cache
@login_required
@require_safe
def profile(request: HttpRequest) -> HttpResponse:
    context = {"tab": "profile", "email_waiting": email_change.waiting(request.user)}
    if context["email_waiting"] is not None:
        context["email_expires"] = times.try_again_at(context["email_waiting"].expires)
    return render(request, "backoffice/profile.html", context)


def _change_secret(
    request: HttpRequest,
    form_class,
    change,
    field: str,
    done: str,
    template: str,
    *,
    elsewhere: str | None = None,
    signs_out: str | None = None,
    **context,
) -> HttpResponse:
    """One PIN-confirmed secret change: a first-sign-in step leads on to the next step due,
    an ordinary change back to the profile. `elsewhere`: what it says instead of `done` when
    the change signed the member's other devices out (a PIN or password change ends every
    other session), said only when there were any (helper-101); `signs_out`: what the form
    says of it beforehand, likewise only while another device is signed in (helper-162)."""
    form = form_class(request.user, _bound(request))
    migrating = request.user.migration_step is not None
    signed_out_elsewhere = _applied(form, change, request, field)
    if signed_out_elsewhere is not None:
        messages.success(request, elsewhere if signed_out_elsewhere else done)
        return redirect(_after_change(migrating))
    if signs_out is not None and sessions.others_signed_in(request, request.user):
        context["signs_out"] = signs_out
    return render(request, template, {"form": form, **context})


def _without_pin(request: HttpRequest) -> HttpResponse:
    """The PIN and sub password pages, for an account without a PIN (staff made with
    create_staff): nothing to change there, and the profile says what can be."""
    messages.info(request, WITHOUT_PIN)
    return redirect("backoffice:profile")


@sensitive_post_parameters("current_pin", "new_pin1", "new_pin2")
@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def change_pin(request: HttpRequest) -> HttpResponse:
    if not request.user.has_pin:
        return _without_pin(request)
    return _change_secret(
        request,
        PinChangeForm,
        pin.change_pin,
        "new_pin1",
        _("Your PIN has been changed."),
        "backoffice/profile_pin.html",
        elsewhere=_(
            "Your PIN has been changed. Any other device signed in to your account is signed out."
        ),
        signs_out=_(
            "Changing your PIN signs out every other device signed in to your account, "
            "view-only ones too."
        ),
        tab="pin",
        default_pin=settings.JENCO_DEFAULT_PIN,
    )


@sensitive_post_parameters("pin", "current_password", "new_password1", "new_password2")
@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def change_password(request: HttpRequest) -> HttpResponse:
    return _change_secret(
        request,
        PasswordChangeForm,
        password.change_password,
        "new_password1",
        _("Your password has been changed."),
        "backoffice/profile_password.html",
        elsewhere=_(
            "Your password has been changed. Any other device signed in to your account is signed out."
        ),
        signs_out=_(
            "Changing your password signs out every other device signed in to your account, "
            "view-only ones too."
        ),
        tab="password",
    )


@sensitive_post_parameters("pin", "new_password1", "new_password2")
@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def change_sub_password(request: HttpRequest) -> HttpResponse:
    """Set, change or remove the sub password (the view-only sign-in), each confirmed with
    the PIN. Never a first-sign-in step (the gate keeps a migrating member away)."""
    if not request.user.has_pin:
        return _without_pin(request)
    if request.method == "POST" and "remove" in request.POST:
        return _remove_sub_password(request)
    done = (
        _("Your sub password has been changed.")
        if request.user.sub_password
        else _("Your sub password has been set. You can now sign in view only with it.")
    )
    return _change_secret(
        request,
        SubPasswordForm,
        password.change_sub_password,
        "new_password1",
        done,
        "backoffice/profile_sub_password.html",
        tab="sub-password",
        remove_form=SubPasswordRemoveForm(request.user, auto_id="id_remove_%s"),
    )


def _remove_sub_password(request: HttpRequest) -> HttpResponse:
    remove_form = SubPasswordRemoveForm(request.user, request.POST, auto_id="id_remove_%s")
    if _confirmed(remove_form, request):
        try:
            password.remove_sub_password(request, request.user)
        except ChangedMeanwhile:
            remove_form.add_error(None, CHANGED_MEANWHILE)
        else:
            messages.success(
                request, _("Your sub password has been removed. View-only sign-in is off.")
            )
            return redirect("backoffice:profile")
    context = {
        "form": SubPasswordForm(request.user),
        "remove_form": remove_form,
        "tab": "sub-password",
    }
    return render(request, "backoffice/profile_sub_password.html", context)


@sensitive_post_parameters("pin", "current_password")
@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def change_email(request: HttpRequest) -> HttpResponse:
    form = EmailChangeForm(request.user, _bound(request))
    if _confirmed(form, request):
        try:
            email_change.request_email_change(request, request.user, form.cleaned_data["email"])
        except email_change.EmailChangeLimited as limited:  # reached meanwhile, from another window
            form.add_error("email", email_change_wait(limited.wait))
        else:
            messages.success(
                request,
                _(
                    "We sent a confirmation link to %(email)s. Open it and press “Change my "
                    "email address” there to change your address."
                )
                % {"email": form.cleaned_data["email"]},
            )
            return redirect("backoffice:profile")
    return render(request, "backoffice/profile_email.html", {"form": form, "tab": "profile"})


# The confirm page's own address, which holds no token (as Django's reset view does).
EMAIL_CONFIRM_PAGE = "new-address"
EMAIL_CONFIRM_TOKEN = "_email_change_token"


@never_cache
@require_http_methods(["GET", "POST"])
def confirm_email(request: HttpRequest, token: str) -> HttpResponse:
    """The emailed link asks; a button (POST) confirms: mail scanners that open links change
    nothing. The token moves into the session and the page opens at an address without it."""
    if not request.user.is_authenticated:
        return _sign_in_to_confirm(request, token)
    if token == links.UNUSABLE:  # where a link that cannot be used leads
        return render(request, "backoffice/profile_email_confirm.html", {"change": None})
    if token != EMAIL_CONFIRM_PAGE:
        # Every link goes on to a page without the token, another member's to the one that
        # answers it, a link that cannot be used to links.UNUSABLE (helper-144: answered
        # here, the page's forms were refused, since a form on a no-referrer page is sent
        # with "Origin: null").
        if not email_change.confirmable(token):
            # The button below is no longer this link's: an older one it held goes too.
            request.session.pop(EMAIL_CONFIRM_TOKEN, None)
            response = redirect("backoffice:profile-email-confirm", links.UNUSABLE)
        else:
            request.session[EMAIL_CONFIRM_TOKEN] = token
            response = redirect("backoffice:profile-email-confirm", EMAIL_CONFIRM_PAGE)
        # The address that holds the token never travels on as a Referer. The page with
        # the button keeps the site's policy: under no-referrer a browser would send
        # "Origin: null" with the form, which CSRF protection refuses.
        response["Referrer-Policy"] = "no-referrer"
        return response
    token = request.session.get(EMAIL_CONFIRM_TOKEN, "")
    if not token:
        # The session that held the link ended before the sign-in (signed out, an hour:
        # accounts.sessions) while the link may still work: not "this link cannot be used".
        context = {"reopen": True, "hours": settings.JENCO_EMAIL_CHANGE_HOURS}
        return render(request, "backoffice/profile_email_confirm.html", context)
    if request.method == "POST" and (
        email_change.confirm_email_change(request, request.user, token)
        # The button pressed twice: the first press changed it, the second finds it done.
        # (The token stays in the session for that second press; the link is used up.)
        or email_change.confirmed_just_now(request.user, token)
    ):
        messages.success(request, _("Your email address has been changed."))
        return redirect("backoffice:profile")
    change = email_change.pending_email_change(request.user, token)
    context = {"change": change}
    if change is None and email_change.confirmable(token):
        # Another member's link that still works, opened where this member is signed in, or
        # signed out and then signed in as this member (helper-145): say so, not "expired,
        # used or replaced", which sent them to ask for a new link that landed the same way.
        # Whoever holds the link learns as much signed out; the other member ID is not shown.
        request.session.pop(EMAIL_CONFIRM_TOKEN, None)
        context["another_account"] = True
    return render(request, "backoffice/profile_email_confirm.html", context)


def _sign_in_to_confirm(request: HttpRequest, token: str) -> HttpResponse:
    """A link opened while signed out: say why the sign-in page shows, keep the token in the
    session (not in the sign-in page's address) and finish the change after sign-in.

    Only a link that can still confirm a change is kept: any address stored whatever it
    held in a new session for 12 hours, and a flood of made-up 15,000-character links
    filled Redis until every sign-in failed (helper-132). One that cannot is told so now,
    before a sign-in for nothing, and starts no session."""
    if token == links.UNUSABLE:  # where a link that cannot be used leads
        again = reverse("backoffice:profile-email")
        return render(request, "backoffice/email_link_unusable.html", {"again": again})
    if token != EMAIL_CONFIRM_PAGE:
        if not email_change.confirmable(token):
            request.session.pop(EMAIL_CONFIRM_TOKEN, None)  # an older link's button goes too
            response = redirect("backoffice:profile-email-confirm", links.UNUSABLE)
            response["Referrer-Policy"] = "no-referrer"
            return response
        request.session[EMAIL_CONFIRM_TOKEN] = token
    messages.info(request, _("Please sign in to finish changing your email address."))
    page = reverse("backoffice:profile-email-confirm", args=[EMAIL_CONFIRM_PAGE])
    response = redirect_to_login(page)
    response["Referrer-Policy"] = "no-referrer"
    return response


def _after_change(migrating: bool) -> str:
    """A first-sign-in step leads on to the next step due, and the last one to the dashboard
    (the gate forwards to whatever is due); an ordinary change goes back to the profile."""
    return "backoffice:dashboard" if migrating else "backoffice:profile"
