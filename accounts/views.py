import logging
from functools import wraps
from urllib.parse import unquote, urlsplit

from captcha import views as captcha_views
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.views import INTERNAL_RESET_SESSION_TOKEN, PasswordResetConfirmView
from django.db import transaction
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseRedirect,
    JsonResponse,
)
from django.shortcuts import redirect, render, resolve_url
from django.urls import Resolver404, resolve, reverse
from django.utils import translation
from django.utils.decorators import method_decorator
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import (
    require_http_methods,
    require_POST,
    require_safe,
)

from accounts import credentials, links, pages, sign_in_sql, times, view_only
from accounts.flows import email_change, mailbox, passkeys, registration, reset, two_step
from accounts.flows import sign_in as sign_in_flow
from accounts.forms import (
    WITHOUT_PIN,
    ForgotForm,
    LoginForm,
    RegistrationForm,
    RegistrationPasswordForm,
    ResetPasswordForm,
    ResetPinForm,
    TwoStepCodeForm,
)
from backoffice import ticker

logger = logging.getLogger(__name__)


def _safe_next(request: HttpRequest) -> str:
    """Where to go after sign-in: the page asked for if it is one of ours, else the back
    office. Only a path that names a page here counts: a link mangled on its way (full-width
    slashes from a phone's keyboard, a cut-off address) leads to the back office, not to
    "page not found" right after signing in."""
    target = request.POST.get("next") or request.GET.get("next") or ""
    if (
        target.startswith("/")
        and url_has_allowed_host_and_scheme(
            target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
        )
        and _is_a_page(urlsplit(target).path)
    ):
        return target
    return resolve_url(settings.LOGIN_REDIRECT_URL)


def _is_a_page(path: str) -> bool:
    path = unquote(path)
    if {".", ".."} & set(path.split("/")):
        return False  # the browser would go elsewhere than the page this resolves to
    try:
        resolve(path)
    except Resolver404:
        return False
    return True


def _go_next(request: HttpRequest) -> HttpResponse:
    # A URL, never a view name: redirect("foo") would try to reverse "foo".
    return HttpResponseRedirect(_safe_next(request))


@view_only.readable
@require_safe
def home(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        return redirect(settings.LOGIN_REDIRECT_URL)
    return redirect("accounts:login")


# The captcha's picture, sound and refresh are the sign-in page's, which a view-only session
# is shown when it signs in again with the main password (a post that fails): refused to it
# (accounts.view_only), the page had no picture to read. The library's views, marked.


@view_only.readable
def captcha_image(request: HttpRequest, key: str, scale: int) -> HttpResponse:
    return captcha_views.captcha_image(request, key, scale)


@view_only.readable
def captcha_audio(request: HttpRequest, key: str) -> HttpResponse:
    return captcha_views.captcha_audio(request, key)


@view_only.readable
@never_cache
@require_safe
def captcha_refresh(request: HttpRequest) -> HttpResponse:
    """django-simple-captcha's refresh (the ↻ beside every captcha) with the key every other
    captcha of ours has (sign_in_sql.new_captcha): the library's is a SHA-1 of `random` and
    the clock (helper-132). Asked by the page's script only, as the library's is."""
    if request.headers.get("x-requested-with") != "XMLHttpRequest":
        raise Http404
    key = sign_in_sql.new_captcha()
    captcha = LoginForm.captcha_urls(key)
    return JsonResponse({"key": key, "image_url": captcha["image"], "audio_url": captcha["audio"]})


def answers_too_many_sign_ins(view):
    """A sign-in refused for the account's sign-ins this hour (sign_in_flow.TooManySignIns,
    raised inside the sign-in's transaction, which keeps nothing): the paused page, saying
    until when and what is still open. Logged here, not in the security log, whose growth is
    what the limit bounds."""

    @wraps(view)
    def answered(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        try:
            return view(request, *args, **kwargs)
        except sign_in_flow.TooManySignIns as refused:
            logger.warning("sign-in refused, the hour's sign-ins taken: member=%s", refused.member)
            waiting = two_step.pending_member(request)
            second_step = waiting is not None and waiting.pk == refused.member.pk
            context = {
                "too_many_sign_ins": refused.way.limit,
                "way": refused.way.name,
                "until": times.try_again_at(refused.again_at),
                # Refused at the second step, the sign-in still waits there.
                "second_step": second_step,
                "other_way_open": sign_in_flow.other_way_open(
                    refused.member, refused.way, at_second_step=second_step
                ),
                "forgot_url": links.forgot_password_path(refused.member.member_id),
            }
            return render(request, "accounts/locked_out.html", context, status=429)

    return answered


@view_only.allowed  # a new sign-in starts a new session (accounts.flows.sign_in)
@sensitive_post_parameters("password")
@csrf_protect
@never_cache
@require_http_methods(["GET", "POST"])
@answers_too_many_sign_ins
def login(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated and request.method == "GET":
        return _go_next(request)
    if request.method == "GET" and not messages.get_messages(request):
        return _login_from_copy(request)
    form = LoginForm(request, data=request.POST if request.method == "POST" else None)
    if request.method == "POST":
        form.is_valid()  # the password's hash is checked here, outside any transaction
        # What the post writes, it writes in one transaction: the captcha used up, then the
        # session, last sign-in and security log, or the failure's count and log.
        # With two-step on, the password's post signs nobody in: it goes on to the code page
        # (and so does that form sent again, form.sent_twice_to_second_step).
        second_step = form.member is not None and two_step.wanted(form.member)
        # A sign-in refused past the hour's limit keeps nothing but the claim on its picture:
        # the same answer sent again checks no password more (helper-146: given up with the
        # rest, one picture paid for a hash a post, for ten minutes, from any client).
        with transaction.atomic():
            form.use_captcha(second_step=second_step)
            second_step = second_step and form.member is not None  # not if it lost the picture
            if second_step:  # signed in only once the code is right (login_code)
                sign_in_flow.refuse_before_the_second_step(form.member)
                two_step.begin(request, form.member, next_url=_safe_next(request))
            elif form.member is not None:
                sign_in_flow.sign_in(request, form.member)
            elif form.sent_twice:
                pass  # the member's double tap, after it signed in: no failure counted
            elif form.sent_while_checking:  # the same, while the first post is checked
                sign_in_flow.sent_while_checking(request, form.cleaned_data["username"])
            elif form.has_error("__all__") or form.has_error("captcha"):
                typed = form.cleaned_data.get("username") or request.POST.get("username", "")
                sign_in_flow.sign_in_failed(request, typed, captcha=form.has_error("captcha"))
        if second_step:
            return redirect("accounts:login-code")
        if form.sent_twice:
            # Answered as the first post was: on to where the sign-in was going. The browser
            # that sent both is signed in; any other finds the sign-in page there.
            if form.sent_twice_to_second_step:
                return redirect("accounts:login-code")
            return _go_next(request)
        if form.member is not None:
            response = _go_next(request)
            _remember_language(response, form.member.preferred_language)
            return response
        if form.errors_quote_nothing_posted() and not messages.get_messages(request):
            return _login_from_copy(request, answered=form)
    context = {
        "form": form,
        "typed_id": form.typed_id,
        "captcha": LoginForm.captcha_urls(sign_in_sql.new_captcha()),
        "next": _safe_next(request),
        "registration_open": registration.is_open(),
    }
    return render(request, "accounts/login.html", context)


def _login_from_copy(request: HttpRequest, answered: LoginForm | None = None) -> HttpResponse:
    """The sign-in page filled in from a copy rendered once (accounts/pages.py): blank, the
    most requested page there is, or answering a failed post whose errors quote nothing
    posted (`answered`: a wrong password, an unknown ID, a wrong captcha)."""
    typed_id = answered.typed_id if answered is not None else ""
    variant = (
        credentials.published_default_password(),
        bool(settings.CAPTCHA_FLITE_PATH),
        registration.is_open(),
    )
    if answered is not None:
        errors = tuple((field, tuple(words)) for field, words in answered.errors.items())
        # Whether the password box had something in it: the page then says it was emptied.
        variant += (errors, bool(answered["view_only"].value()), bool(typed_id))
        variant += (answered.secrets_cleared,)
    return pages.fill_in(
        request,
        "accounts/login.html",
        lambda: {
            "form": answered if answered is not None else LoginForm(request),
            "typed_id": pages.TYPED if typed_id else "",
            "captcha": LoginForm.captcha_urls(pages.CAPTCHA),
            "next": pages.NEXT,
            "ticker_slot": pages.TICKER,
            "registration_open": registration.is_open(),
        },
        variant=variant,
        values={
            pages.CAPTCHA: sign_in_sql.new_captcha(),
            pages.NEXT: _safe_next(request),
            pages.TICKER: ticker.strip(),
            pages.TYPED: typed_id,
        },
    )


def _finished_meanwhile(request: HttpRequest) -> HttpResponse:
    """The code page's form sent twice: the other post signed the member in (in the browser
    that sent both). On to where the sign-in was going; nothing is signed in here."""
    return redirect(two_step.pending_next(request) or settings.LOGIN_REDIRECT_URL)


def _remember_language(response: HttpResponse, language: str) -> None:
    """The language cookie Django's LocaleMiddleware reads on the next request."""
    response.set_cookie(
        settings.LANGUAGE_COOKIE_NAME,
        language,
        max_age=settings.LANGUAGE_COOKIE_AGE,
        path=settings.LANGUAGE_COOKIE_PATH,
        domain=settings.LANGUAGE_COOKIE_DOMAIN,
        secure=settings.LANGUAGE_COOKIE_SECURE,
        httponly=settings.LANGUAGE_COOKIE_HTTPONLY,
        samesite=settings.LANGUAGE_COOKIE_SAMESITE,
    )
    translation.activate(language)


@view_only.allowed  # part of signing in: a new session (accounts.flows.two_step.begin)
@sensitive_post_parameters("code")
@never_cache
@csrf_protect
@require_http_methods(["GET", "POST"])
@answers_too_many_sign_ins
def login_code(request: HttpRequest) -> HttpResponse:
    """The second step of a sign-in with two-step verification on: an authenticator code or
    a recovery code. Without a sign-in waiting (none, expired, or the password changed
    meanwhile), back to the sign-in page with a word why."""
    if request.method == "POST" and two_step.finished_meanwhile(request):
        return _finished_meanwhile(request)
    member = two_step.pending_member(request)
    if member is None and request.method == "GET" and request.user.is_authenticated:
        # Back from the dashboard to this page (a phone's back button): signed in, not
        # "sign in again" (helper-97).
        return redirect(settings.LOGIN_REDIRECT_URL)
    if member is None:
        two_step.abandon(request)
        messages.error(
            request,
            _(
                "The sign-in waited too long for its code, or was not started. Please sign in again."
            ),
        )
        return redirect("accounts:login")
    form = TwoStepCodeForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        next_url = two_step.pending_next(request) or resolve_url(settings.LOGIN_REDIRECT_URL)
        right = (two_step.Check.RIGHT_TOTP, two_step.Check.RIGHT_RECOVERY)
        checked = two_step.finish_with_code(request, member, form.cleaned_data["code"])
        if checked.result == two_step.Check.SENT_TWICE:
            return _finished_meanwhile(request)
        if checked.result in right:
            if checked.result == two_step.Check.RIGHT_RECOVERY:
                left = two_step.recovery_codes_left(member)
                # In the language of the pages it shows on (the member's, from here on), not
                # the browser's this page was in.
                with translation.override(member.preferred_language):
                    # Often the phone is lost: new codes alone would not help, the app is
                    # set up again on the new phone (off, then on), which makes new codes too.
                    # Both forms say the same, as languages with one plural form show one.
                    notice = ngettext(
                        "You signed in with a recovery code. %(left)d code is left. If you "
                        "lost your phone, turn two-step verification off under Account > "
                        "Security, then set it up again on your new phone: that gives you new "
                        "recovery codes too.",
                        "You signed in with a recovery code. %(left)d codes are left. If you "
                        "lost your phone, turn two-step verification off under Account > "
                        "Security, then set it up again on your new phone: that gives you new "
                        "recovery codes too.",
                        left,
                    ) % {"left": left}
                messages.warning(request, notice)
            response = HttpResponseRedirect(next_url)
            _remember_language(response, member.preferred_language)
            return response
        if checked.result == two_step.Check.PAUSED:
            form.add_error("code", _two_step_paused(checked.until))
        elif checked.result == two_step.Check.USED:
            form.add_error(
                "code",
                _(
                    "That code was already used. Your app shows a new code every 30 seconds: "
                    "wait for the next one, then type it."
                ),
            )
        elif two_step.is_recovery_code(form.cleaned_data["code"]):
            form.add_error(
                "code",
                _(
                    "That recovery code is not right, or was already used. Each recovery "
                    "code works once: type one from your list that you have not used yet."
                ),
            )
        else:
            form.add_error(
                "code",
                _(
                    "That code is not right, or was already used. Codes change every 30 "
                    "seconds: type the one your app shows now."
                ),
            )
    # Told on arrival, not only once a code is typed: the password was right, and the member
    # would otherwise wait for a fresh code to type and be refused.
    paused = two_step.paused_until(member) if request.method == "GET" else None
    context = {
        "form": form,
        "paused": _two_step_paused(paused) if paused else None,
        "passkey_options": _second_step_passkey_options(request, member),
    }
    return render(request, "accounts/login_code.html", context)


def _two_step_paused(until) -> str:
    return _(
        "Too many wrong codes. For your safety, codes are not accepted until %(time)s. If "
        "you lost your authenticator, use a recovery code then."
    ) % {"time": times.try_again_at(until)}


def _second_step_passkey_options(request: HttpRequest, member) -> str:
    return passkeys.sign_in_options(request, member) if member.passkeys.exists() else ""


PASSKEY_REFUSED = gettext_lazy(
    "That passkey was not accepted. Try again, or use another way to sign in."
)


@view_only.allowed  # part of signing in, like login_code
@never_cache
@csrf_protect
@require_POST
@answers_too_many_sign_ins
def login_code_passkey(request: HttpRequest) -> HttpResponse:
    """The second step with a passkey instead of a code (the form on /login/code/)."""
    member = two_step.pending_member(request)
    if member is None:
        return redirect("accounts:login-code")  # says why there
    next_url = two_step.pending_next(request) or resolve_url(settings.LOGIN_REDIRECT_URL)
    if not two_step.finish_with_passkey(request, member, request.POST.get("passkey", "")):
        messages.error(request, PASSKEY_REFUSED)
        return redirect("accounts:login-code")
    response = HttpResponseRedirect(next_url)
    _remember_language(response, member.preferred_language)
    return response


@view_only.allowed  # a new sign-in starts a new session
@never_cache
@csrf_protect
@require_http_methods(["GET", "POST"])
@answers_too_many_sign_ins
def login_passkey(request: HttpRequest) -> HttpResponse:
    """Sign in with a passkey alone: no ID, password or captcha typed. The browser offers the
    passkeys it holds for this site; the one chosen must also prove the person (fingerprint,
    face or the device's PIN), so it stands for the password and the second step together."""
    if request.user.is_authenticated and request.method == "GET":
        return _go_next(request)
    if request.method == "POST":
        member = sign_in_flow.sign_in_with_passkey(request, request.POST.get("passkey", ""))
        if member is not None:
            response = _go_next(request)
            _remember_language(response, member.preferred_language)
            return response
        messages.error(request, PASSKEY_REFUSED)
    context = {"passkey_options": passkeys.sign_in_options(request), "next": _safe_next(request)}
    return render(request, "accounts/login_passkey.html", context)


EMAIL_CORRECTION_PAGE = "new-address"
EMAIL_CORRECTION_TOKEN = "_email_correction_token"


@never_cache
@csrf_protect
@require_http_methods(["GET", "POST"])
def email_correction(request: HttpRequest, token: str) -> HttpResponse:
    """The link a supervisor's email correction mails to the new address (issue 17). It works
    signed out: the member may have lost the password with the old mailbox. As with every
    emailed link, opening it changes nothing (mail scanners open links); the button does, and
    the token moves into the session so the page's address does not hold it."""
    if token == links.UNUSABLE:  # where a link that cannot be used leads
        return render(request, "accounts/email_correction.html", {"change": None})
    if token != EMAIL_CORRECTION_PAGE:
        if email_change.pending_correction(token) is None:
            # Checked before anything is stored: a made-up link starts no session. The button
            # below is no longer this link's: an older one the session held goes too.
            request.session.pop(EMAIL_CORRECTION_TOKEN, None)
            response = redirect("accounts:email-correct", links.UNUSABLE)
        else:
            request.session[EMAIL_CORRECTION_TOKEN] = token
            response = redirect("accounts:email-correct", EMAIL_CORRECTION_PAGE)
        response["Referrer-Policy"] = "no-referrer"
        return response
    token = request.session.get(EMAIL_CORRECTION_TOKEN, "")
    change = email_change.pending_correction(token)
    if request.method == "POST" and (
        (change is not None and email_change.confirm_email_change(request, change.member, token))
        # The button pressed twice: the first press changed it, the second finds it done, as
        # a member's own change does (helper-95). The token stays in the session for that
        # second press; the link is used up.
        or (change := email_change.corrected_just_now(token)) is not None
    ):
        context = {"done": True, "email": change.new_email}
        return render(request, "accounts/email_correction.html", context)
    return render(request, "accounts/email_correction.html", {"change": change})


@view_only.allowed
@require_POST
def logout(request: HttpRequest) -> HttpResponse:
    signed_in = request.user.is_authenticated
    sign_in_flow.sign_out(request)
    if signed_in:  # the sign-in page alone read as if nothing had happened (helper-97)
        messages.success(request, _("You are signed out."))
    return redirect("accounts:login")


# --- Forgot password / PIN (seed pages 2-3) ------------------------------------------------


# What the forgot form was sent with, for its "check your email" page to repeat once: a
# mistyped address is otherwise waited on for ever (helper-159). Only the visitor's own
# typing, in their own session: it says nothing of what is registered.
FORGOT_TYPED = "_forgot_typed"


def _forgot(request: HttpRequest, kind: reset.ResetKind) -> HttpResponse:
    form = ForgotForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        member_id, email = form.cleaned_data["username"], form.cleaned_data["email"]
        reset.request_reset(request, kind, member_id, email)
        request.session[FORGOT_TYPED] = [kind.name, member_id, email]
        return redirect(kind.url("forgot-sent"))
    return render(request, "accounts/forgot.html", {"form": form, "kind": kind})


@csrf_protect
@require_http_methods(["GET", "POST"])
def forgot_password(request: HttpRequest) -> HttpResponse:
    return _forgot(request, reset.PASSWORD)


@csrf_protect
@require_http_methods(["GET", "POST"])
def forgot_pin(request: HttpRequest) -> HttpResponse:
    # Signed in on the published defaults alone, the visitor is not yet known to be the
    # member: until the mailbox is proved, the form asks for the ID and registered address
    # as it does anyone's.
    if request.user.is_authenticated and not mailbox.due(request):
        return _forgot_pin_signed_in(request)
    return _forgot(request, reset.PIN)


NO_EMAIL_FOR_LINK = gettext_lazy(
    "No email address is registered for your account, so we cannot send you a link. Please "
    "contact JENCO support."
)


def _forgot_pin_signed_in(request: HttpRequest) -> HttpResponse:
    """A signed-in member is known: one tap mails the link to the registered address, and
    the member stays in the back office (no ID, email or captcha to type again)."""
    member = request.user
    if not member.has_pin:  # a staff account: nothing to reset
        messages.info(request, WITHOUT_PIN)
        return redirect("backoffice:profile")
    if request.method == "POST":
        if not member.email:
            messages.error(request, NO_EMAIL_FOR_LINK)
        else:
            # The member's own, signed in: nothing typed (support's log says the member).
            sending = reset.email_reset_link(reset.PIN, member, request=request, actor=member)
            if sending.sent:
                messages.success(
                    request,
                    _(
                        "We sent a link to set a new PIN to %(email)s. It works for %(minutes)s "
                        "minutes."
                    )
                    % {
                        "email": credentials.mask_email(member.email),
                        "minutes": settings.JENCO_RESET_LINK_MINUTES,
                    },
                )
            elif sending.refused is reset.Refused.JUST_SENT:
                # Pressed again within a minute: the first press's link is on its way, and no
                # other goes (helper-168: "sent" again, and no mail came).
                messages.info(
                    request,
                    _(
                        "We sent the link to %(email)s less than a minute ago: look for it in your "
                        "mailbox (and its spam folder). No second link was sent."
                    )
                    % {"email": credentials.mask_email(member.email)},
                )
            else:
                messages.error(
                    request,
                    _(
                        "No link was sent: %(count)s have been sent in the last hour, the most we "
                        "send. Look for them in your mailbox (and its spam folder)."
                    )
                    % {"count": settings.JENCO_RESET_EMAILS_PER_HOUR},
                )
        return _go_next(request)
    context = {
        "kind": reset.PIN,
        "email": credentials.mask_email(member.email) if member.email else "",
        "no_email": NO_EMAIL_FOR_LINK,
        "next": _safe_next(request),
    }
    return render(request, "accounts/forgot_pin_signed_in.html", context)


@require_safe
def forgot_password_sent(request: HttpRequest) -> HttpResponse:
    return _sent(request, reset.PASSWORD)


@require_safe
def forgot_pin_sent(request: HttpRequest) -> HttpResponse:
    return _sent(request, reset.PIN)


@method_decorator(sensitive_post_parameters(), name="dispatch")
@method_decorator(never_cache, name="dispatch")
class ResetConfirmView(PasswordResetConfirmView):
    """Django's reset view (token check, the token moved out of the URL) with our form and
    our flow: new secret twice, captcha, then done; the member is not signed in."""

    kind = reset.PASSWORD
    template_name = "accounts/reset_confirm.html"
    http_method_names = ["get", "post"]

    def dispatch(self, *args, **kwargs):
        response = super().dispatch(*args, **kwargs)
        # links.UNUSABLE is no token: Django's view answers it with the page that says so.
        if kwargs["token"] not in (self.reset_url_token, links.UNUSABLE):
            if not isinstance(response, HttpResponseRedirect):
                # Django's view sends a working link on to the form's address and answers one
                # that cannot be used in place, where its language switch was refused (see
                # links.UNUSABLE).
                response = redirect(links.unusable_reset_path(self.kind))
            # The address that holds the token is never sent onwards, not even to us. The
            # form's own address (…/set-password/) holds none and keeps the site's
            # same-origin policy: under no-referrer a browser sends "Origin: null" with the
            # form, which CSRF protection rightly refuses.
            response["Referrer-Policy"] = "no-referrer"
        return response

    def get_form_kwargs(self):
        kwargs = super().get_form_kwargs()
        kwargs["member"] = kwargs.pop("user")
        return kwargs

    def form_valid(self, form):
        token = self.request.session.pop(INTERNAL_RESET_SESSION_TOKEN, "")
        new_secret = form.cleaned_data[self.kind.new_field]
        try:
            done = reset.reset(self.request, self.kind, self.user, new_secret, token)
        except reset.LinkAlreadyUsed:
            return self.render_to_response({"validlink": False, "kind": self.kind})
        if done.sub_password_removed:
            messages.info(self.request, SUB_PASSWORD_REMOVED_BY_RESET)
        return redirect(self.kind.url("reset-done"))

    def get_context_data(self, **kwargs):
        return {**super().get_context_data(**kwargs), "kind": self.kind}


SUB_PASSWORD_REMOVED_BY_RESET = gettext_lazy(
    "Your new password was the same as your sub password, so the sub password has been "
    "removed and view-only sign-in is off. To use it again, set a different sub password "
    "under Account > Profile."
)


class ResetPasswordView(ResetConfirmView):
    kind = reset.PASSWORD
    form_class = ResetPasswordForm
    token_generator = kind.token


class ResetPinView(ResetConfirmView):
    kind = reset.PIN
    form_class = ResetPinForm
    token_generator = kind.token
    reset_url_token = "set-pin"  # the form's own address, once the token left it


@require_safe
def reset_password_done(request: HttpRequest) -> HttpResponse:
    return render(request, "accounts/reset_done.html", {"kind": reset.PASSWORD})


@require_safe
def reset_pin_done(request: HttpRequest) -> HttpResponse:
    return render(request, "accounts/reset_done.html", {"kind": reset.PIN})


def _sent(request: HttpRequest, kind: reset.ResetKind) -> HttpResponse:
    typed = request.session.pop(FORGOT_TYPED, None)
    context = {
        "kind": kind,
        "reset_minutes": settings.JENCO_RESET_LINK_MINUTES,
        "per_hour": settings.JENCO_RESET_EMAILS_PER_HOUR,
        # As typed on this kind's form (not the other's, opened in another tab).
        "typed": typed[1:] if typed and typed[0] == kind.name else None,
        "again_url": reverse(kind.url("forgot")),
    }
    return render(request, "accounts/forgot_sent.html", context)


# --- Registration --------------------------------------------------------------------------

# The verification page's own address, which holds no token (as for reset links).
VERIFY_PAGE = "confirm"
# Where a link that already created its account leads (one that cannot be used otherwise:
# links.UNUSABLE).
VERIFY_COMPLETED = "created"
VERIFY_TOKEN = "_registration_token"
REGISTERED_MEMBER_ID = "_registered_member_id"


REGISTRATION_LIMITED = gettext_lazy(
    "Too many registrations have been sent from your connection in the last hour. Please try "
    "again later."
)


def _registration_closed(request: HttpRequest) -> HttpResponse:
    status = 403 if request.method == "POST" else 200
    return render(request, "accounts/register_closed.html", status=status)


@sensitive_post_parameters("new_password1", "new_password2", "new_pin1", "new_pin2")
@csrf_protect
@never_cache
@require_http_methods(["GET", "POST"])
def register(request: HttpRequest) -> HttpResponse:
    if not registration.is_open():
        return _registration_closed(request)
    form = RegistrationForm(
        request.POST if request.method == "POST" else None,
        initial={"preferred_language": translation.get_language()},
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            registration.register(
                request,
                name=data["name"],
                email=data["email"],
                password=data["new_password1"],
                pin=data["new_pin1"],
                language=data["preferred_language"],
            )
        except registration.RegistrationLimited:
            form.add_error(None, REGISTRATION_LIMITED)
        else:
            return redirect("accounts:register-sent")
    return render(request, "accounts/register.html", {"form": form})


@require_safe
def register_sent(request: HttpRequest) -> HttpResponse:
    context = {
        "hours": settings.JENCO_REGISTRATION_HOURS,
        "per_day": settings.JENCO_REGISTRATION_PER_EMAIL,
    }
    return render(request, "accounts/register_sent.html", context)


@sensitive_post_parameters("password")
@never_cache
@require_http_methods(["GET", "POST"])
def register_verify(request: HttpRequest, token: str) -> HttpResponse:
    """The emailed link asks for the password chosen when registering; its button (POST)
    creates the member: mail scanners that open links create nothing, nor does the owner of
    an address a stranger registered. The token moves into the session and the page opens at
    an address without it."""
    if not registration.is_open():
        return _registration_closed(request)
    if token in (links.UNUSABLE, VERIFY_COMPLETED):  # where a link that cannot be used leads
        context = {"registration": None, "completed": token == VERIFY_COMPLETED}
        return render(request, "accounts/register_verify.html", context)
    if token != VERIFY_PAGE:
        if registration.pending_registration(token) is None:
            # Said here, the page's language switch was refused (see links.UNUSABLE). A link
            # that made its account says so (helper-97), at an address of its own.
            landing = VERIFY_COMPLETED if registration.completed(token) else links.UNUSABLE
            response = redirect("accounts:register-verify", landing)
        else:
            request.session[VERIFY_TOKEN] = token
            response = redirect("accounts:register-verify", VERIFY_PAGE)
        # The address holding the token never travels on as a Referer (see confirm_email).
        response["Referrer-Policy"] = "no-referrer"
        return response
    token = request.session.get(VERIFY_TOKEN, "")
    if not token and not request.session.get(REGISTERED_MEMBER_ID):
        # The signed-out session that held the link ended (an hour: accounts.sessions) while
        # the link, 24 hours long, may still work: not "this link cannot be used".
        context = {"reopen": True, "hours": settings.JENCO_REGISTRATION_HOURS}
        return render(request, "accounts/register_verify.html", context)
    form = RegistrationPasswordForm(request.POST if request.method == "POST" else None)
    if form.is_valid():
        verified = registration.complete_registration(request, token, form.cleaned_data["password"])
        if verified.member is not None:
            request.session.pop(VERIFY_TOKEN, None)
            request.session[REGISTERED_MEMBER_ID] = verified.member.member_id
            return redirect("accounts:register-done")
        if verified.address_taken:
            return render(request, "accounts/register_verify.html", {"address_taken": True})
        if verified.wrong_password:
            form.add_error(
                "password",
                ngettext(
                    "This is not the password chosen when registering. %(count)d more try.",
                    "This is not the password chosen when registering. %(count)d more tries.",
                    verified.tries_left,
                )
                % {"count": verified.tries_left},
            )
    pending = registration.pending_registration(token)
    if pending is None and request.session.get(REGISTERED_MEMBER_ID):
        return redirect("accounts:register-done")  # back from the done page: still done
    # The page open in another browser (a second device, a tab), its button pressed after
    # the link made the account: that it is made, as the link opened again says (helper-97),
    # not "ask for a new link", which led to registering again (helper-150).
    completed = pending is None and registration.completed(token)
    context = {
        "registration": pending,
        "completed": completed,
        "form": form,
        "hours": settings.JENCO_REGISTRATION_HOURS,
    }
    return render(request, "accounts/register_verify.html", context)


@never_cache  # the new member ID: kept by no cache, a shared computer's included
@require_safe
def register_done(request: HttpRequest) -> HttpResponse:
    member_id = request.session.get(REGISTERED_MEMBER_ID)
    if not member_id:
        return redirect("accounts:login")
    return render(request, "accounts/register_done.html", {"member_id": member_id})
