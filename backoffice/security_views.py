"""Account > Security: where the member is signed in, their activity, and two-step
verification (issue 16).

Every change here is confirmed with the PIN (the password, for an account without one), checked
only once the rest of the form is right, so a typo never costs a PIN try.
"""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from accounts import activity as activity_log
from accounts import view_only
from accounts.flows import passkeys, pin, sessions, two_step
from accounts.forms import (
    AuthenticatorSetupForm,
    PasskeyAddForm,
    RecoveryCodesForm,
    TwoStepConfirmed,
    refuse_confirmation,
    sent_form_token,
)
from accounts.models import Authenticator, Passkey


def _bound(request: HttpRequest):
    return request.POST if request.method == "POST" else None


def _confirmed(form, request: HttpRequest) -> bool:
    """Valid, and confirmed with the right PIN or password (checked last: each try counts)."""
    if request.method != "POST" or not form.is_valid():
        return False
    field = "pin" if form.with_pin else "password"
    checked = pin.confirm_change(request, request.user, form.cleaned_data[field])
    if not checked.right:
        refuse_confirmation(form, field, request.user, checked)
    return checked.right


@view_only.readable
@never_cache
@login_required
@require_safe
def security(request: HttpRequest) -> HttpResponse:
    member = request.user
    passkeys.not_ready(request)  # a passkey named and left: its PIN is asked again
    authenticator = Authenticator.objects.filter(member=member).first()
    context = {
        "authenticator": authenticator,
        "recovery_left": two_step.recovery_codes_left(member) if authenticator else 0,
        "staff_required": two_step.required_for_staff(member),
        "signed_in": sessions.signed_in(request, member),
        "passkeys": list(member.passkeys.all()),
        "max_passkeys": passkeys.MAX_PASSKEYS,
        "latest": [
            activity_log.entry(event) for event in activity_log.events(member)[:LATEST_ACTIVITY]
        ],
    }
    return render(request, "backoffice/security/security.html", context)


@sensitive_post_parameters("code", "pin", "password")
@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def two_step_setup(request: HttpRequest) -> HttpResponse:
    """Turn on the authenticator app: scan the QR code (or type the key), then confirm with
    the first code and the PIN. The recovery codes are shown once, on the answer."""
    member = request.user
    if two_step.is_on(member):
        # This page's form sent again once it was on (a double tap): the codes it made.
        codes = two_step.codes_made_by(request, member, sent_form_token(_bound(request)))
        if codes is not None:
            return _turned_on(request, codes)
        messages.info(request, _("Two-step verification is already on."))
        return redirect("backoffice:security")
    setup = two_step.setup(request, member)
    form = AuthenticatorSetupForm(member, _bound(request))
    if request.method == "POST" and form.is_valid():
        # The code first: a wrong one costs no PIN try.
        if not two_step.setup_code_fits(request, form.cleaned_data["code"]):
            form.add_error(
                "code",
                _(
                    "That code does not match. Check that the app shows JENCO and your member "
                    "ID, that your phone's clock is right, and type the code it shows now."
                ),
            )
        elif _confirmed(form, request):
            try:
                codes = two_step.turn_on(
                    request, member, form.cleaned_data["code"], form_token=form.sent_token()
                )
            except two_step.AlreadyDone:
                messages.info(request, _("Two-step verification is already on."))
                return redirect("backoffice:security")
            return _turned_on(request, codes)
    context = {"setup": setup, "form": form, "required": two_step.required_for_staff(member)}
    return render(request, "backoffice/security/two_step_setup.html", context)


def _turned_on(request: HttpRequest, codes: list[str]) -> HttpResponse:
    messages.success(request, _("Two-step verification is on."))
    return _show_recovery_codes(request, codes)


@sensitive_post_parameters("pin", "password")
@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def two_step_off(request: HttpRequest) -> HttpResponse:
    member = request.user
    if not two_step.is_on(member):
        messages.info(request, _("Two-step verification is not on."))
        return redirect("backoffice:security")
    if two_step.required_for_staff(member):
        messages.error(request, _("Staff accounts must keep two-step verification on."))
        return redirect("backoffice:security")
    form = TwoStepConfirmed(member, _bound(request))
    if _confirmed(form, request):
        two_step.turn_off(request, member)
        messages.success(
            request,
            _("Two-step verification is off. Signing in now needs only your password."),
        )
        return redirect("backoffice:security")
    return render(request, "backoffice/security/two_step_off.html", {"form": form})


@sensitive_post_parameters("pin", "password")
@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def recovery_codes(request: HttpRequest) -> HttpResponse:
    """New recovery codes (the old ones stop working), shown once."""
    member = request.user
    if not two_step.is_on(member):
        messages.info(request, _("Two-step verification is not on."))
        return redirect("backoffice:security")
    form = RecoveryCodesForm(member, _bound(request))
    if _confirmed(form, request):
        codes = two_step.new_recovery_codes(request, member, form_token=form.sent_token())
        messages.success(request, _("New recovery codes are made. The old ones no longer work."))
        return _show_recovery_codes(request, codes)
    context = {"form": form, "left": two_step.recovery_codes_left(member)}
    return render(request, "backoffice/security/recovery_codes.html", context)


def _show_recovery_codes(request: HttpRequest, codes: list[str]) -> HttpResponse:
    """The codes, once: this answer is the only place they are ever shown (never cached)."""
    text = "\r\n".join(
        [_("JENCO recovery codes for %(member_id)s") % {"member_id": request.user.member_id}]
        + ["", *codes, "", _("Each code works once.")]
    )
    context = {"codes": codes, "codes_text": text, "codes_copied": "\n".join(codes)}
    return render(request, "backoffice/security/recovery_codes_shown.html", context)


# --- Sessions and activity -------------------------------------------------------------------

LATEST_ACTIVITY = 5
ACTIVITY_PER_PAGE = 25


def _session_id(request: HttpRequest) -> int | None:
    value = request.POST.get("session", "")
    return int(value) if value.isascii() and value.isdigit() and len(value) < 19 else None


@never_cache
@login_required
@require_POST
def end_session(request: HttpRequest) -> HttpResponse:
    """Sign out one other device. Nothing is said about a session that is not the member's."""
    sign_in_id = _session_id(request)
    if sign_in_id is not None and sessions.end(request, request.user, sign_in_id):
        messages.success(request, _("That device is signed out."))
    else:
        messages.info(request, _("That device was already signed out."))
    return redirect("backoffice:security")


@never_cache
@login_required
@require_POST
def end_other_sessions(request: HttpRequest) -> HttpResponse:
    ended = sessions.end_others(request, request.user)
    if ended:
        messages.success(
            request,
            ngettext(
                "%(count)d other device is signed out.",
                "%(count)d other devices are signed out.",
                ended,
            )
            % {"count": ended},
        )
    else:
        messages.info(request, _("You were not signed in anywhere else."))
    return redirect("backoffice:security")


@view_only.readable
@never_cache
@login_required
@require_safe
def activity(request: HttpRequest) -> HttpResponse:
    pages = Paginator(activity_log.events(request.user), ACTIVITY_PER_PAGE)
    page = pages.get_page(request.GET.get("page"))
    context = {
        "page": page,
        "entries": [activity_log.entry(event) for event in page],
        "days": settings.JENCO_ACTIVITY_DAYS,
    }
    return render(request, "backoffice/security/activity.html", context)


# --- Passkeys ---------------------------------------------------------------------------------


@sensitive_post_parameters("pin", "password")
@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def passkey_add(request: HttpRequest) -> HttpResponse:
    """Add a passkey in two steps: a name and the PIN (a counted try), then the phone or
    computer makes the passkey (passkeys.js sends its answer). The device is asked only once
    the name and PIN are right, so a refused name or a mistyped PIN never leaves a passkey on
    it that this site does not keep."""
    member = request.user
    made = request.POST.get("passkey") if request.method == "POST" else None
    if made is not None and passkeys.added_here(request, made):
        return redirect("backoffice:security")  # that form sent twice: the first kept it
    if member.passkeys.count() >= passkeys.MAX_PASSKEYS:
        messages.info(
            request,
            _("You have %(count)d passkeys, the most there can be. Remove one to add another.")
            % {"count": passkeys.MAX_PASSKEYS},
        )
        return redirect("backoffice:security")
    name, seconds_left = passkeys.ready(request)
    if made is not None:
        return _passkey_made(request, member, name, made)
    if request.method == "POST":
        form = PasskeyAddForm(member, request.POST)
        if _confirmed(form, request):
            passkeys.get_ready(request, form.cleaned_data["name"])
            return redirect("backoffice:passkey-add")
    elif name is not None and not {"rename", "waited"} & request.GET.keys():
        context = {
            "name": name,
            "seconds_left": seconds_left,
            "passkey_options": passkeys.add_options(request, member),
        }
        return render(request, "backoffice/security/passkey_make.html", context)
    else:
        if "waited" in request.GET:  # the page's time was up (passkeys.js): PIN again
            passkeys.not_ready(request)
            messages.info(request, WAITED_TOO_LONG)
        form = PasskeyAddForm(member, initial={"name": name} if name else None)
    return render(request, "backoffice/security/passkey_add.html", {"form": form})


WAITED_TOO_LONG = gettext_lazy(
    "Adding the passkey waited too long. Name it and confirm with your PIN again."
)


def _passkey_made(request: HttpRequest, member, name: str | None, made: str) -> HttpResponse:
    """The second step's post: the passkey the device made, kept under the name given. Once
    sent, the first step is needed again, whatever came of it."""
    passkeys.not_ready(request)
    if name is None:
        messages.info(request, WAITED_TOO_LONG)
        return redirect("backoffice:passkey-add")
    try:
        new = passkeys.verify_new(request, made)
    except passkeys.Refused:
        messages.error(
            request,
            _(
                "Your browser did not make a passkey. Tap “Add passkey” again and follow your "
                "phone's or computer's steps."
            )
            if not made
            else _("The passkey could not be checked, so it was not added. Please try again."),
        )
        return redirect("backoffice:passkey-add")
    try:
        passkeys.add(request, member, name, new)
    except passkeys.Refused:
        messages.info(request, _("That passkey is already added."))
    else:
        messages.success(
            request, _("Passkey “%(name)s” is added. You can sign in with it now.") % {"name": name}
        )
    return redirect("backoffice:security")


@sensitive_post_parameters("pin", "password")
@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def passkey_remove(request: HttpRequest, passkey_id: int) -> HttpResponse:
    member = request.user
    passkey = get_object_or_404(Passkey, pk=passkey_id, member=member)
    form = TwoStepConfirmed(member, _bound(request))
    if _confirmed(form, request):
        passkeys.remove(request, member, passkey)
        messages.success(request, _("Passkey “%(name)s” is removed.") % {"name": passkey.name})
        return redirect("backoffice:security")
    context = {"form": form, "passkey": passkey}
    return render(request, "backoffice/security/passkey_remove.html", context)
