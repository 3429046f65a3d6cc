from captcha.models import CaptchaStore
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.views import INTERNAL_RESET_SESSION_TOKEN, PasswordResetConfirmView
from django.db import transaction
from django.http import (
    HttpRequest,
    HttpResponse,
    HttpResponseRedirect,
)
from django.shortcuts import redirect, render, resolve_url
from django.templatetags.static import static
from django.urls import reverse_lazy
from django.utils.decorators import method_decorator
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import (
    require_GET,
    require_http_methods,
    require_POST,
    require_safe,
)
from django.views.i18n import set_language as django_set_language

from accounts import credentials, flows, pages
from accounts.forms import ForgotForm, LoginForm, ResetPasswordForm, ResetPinForm


def _safe_next(request: HttpRequest) -> str:
    """Where to go after sign-in: the page asked for if it is ours, else the back office."""
    target = request.POST.get("next") or request.GET.get("next") or ""
    if url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return resolve_url(settings.LOGIN_REDIRECT_URL)


def _go_next(request: HttpRequest) -> HttpResponse:
    # A URL, never a view name: redirect("foo") would try to reverse "foo".
    return HttpResponseRedirect(_safe_next(request))


@require_GET
def home(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        return redirect("backoffice:dashboard")
    return redirect("accounts:login")


@sensitive_post_parameters("password")
@csrf_protect
@never_cache
@require_http_methods(["GET", "POST"])
def login(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated and request.method == "GET":
        return _go_next(request)
    if request.method == "GET" and not messages.get_messages(request):
        return _blank_login(request)
    form = LoginForm(request, data=request.POST if request.method == "POST" else None)
    if request.method == "POST":
        form.is_valid()  # the password's hash is checked here, outside any transaction
        # What the post writes, it writes in one transaction: the captcha used up, then the
        # session, last sign-in and security log, or the failure's count and log.
        with transaction.atomic():
            form.use_captcha()
            if form.member is not None:
                flows.sign_in(request, form.member)
            elif form.has_error("__all__") or form.has_error("captcha"):
                typed = form.cleaned_data.get("username") or request.POST.get("username", "")
                flows.sign_in_failed(request, typed, captcha=form.has_error("captcha"))
        if form.member is not None:
            response = _go_next(request)
            flows.remember_language(response, form.member.preferred_language)
            return response
    captcha = LoginForm.captcha_urls(CaptchaStore.generate_key())
    context = {"form": form, "captcha": captcha, "next": _safe_next(request)}
    return render(request, "accounts/login.html", context)


def _blank_login(request: HttpRequest) -> HttpResponse:
    """The sign-in page before anything was typed: the most requested page there is, so its
    text is rendered once and filled in per request (accounts/pages.py)."""
    return pages.fill_in(
        request,
        "accounts/login.html",
        lambda: {
            "form": LoginForm(request),
            "captcha": LoginForm.captcha_urls(pages.CAPTCHA),
            "next": pages.NEXT,
        },
        variant=(credentials.published_default_password(), bool(settings.CAPTCHA_FLITE_PATH)),
        values={pages.CAPTCHA: CaptchaStore.generate_key(), pages.NEXT: _safe_next(request)},
    )


@require_POST
def logout(request: HttpRequest) -> HttpResponse:
    flows.sign_out(request)
    return redirect("accounts:login")


@require_POST
def set_language(request: HttpRequest) -> HttpResponse:
    """Django's language switch; a signed-in member's choice is also saved on the account."""
    response = django_set_language(request)
    language = request.POST.get("language")
    if request.user.is_authenticated and language in dict(settings.LANGUAGES):
        flows.change_language(request, request.user, language)
    return response


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    """A form refused by CSRF protection (usually a page left open too long): say what to do,
    in the member's language and our layout, not Django's technical page."""
    return render(request, "403_csrf.html", status=403)


@require_safe
def favicon(request: HttpRequest) -> HttpResponse:
    # Resolved per request: the static manifest may not exist yet when URLs are loaded.
    return HttpResponseRedirect(static("favicon.svg"))  # not permanent: the name changes


@require_safe  # load balancers often probe with HEAD
def healthz(request: HttpRequest) -> HttpResponse:
    return HttpResponse("ok", content_type="text/plain")


# --- Forgot password / PIN (seed pages 2-3) ------------------------------------------------


def _forgot(request: HttpRequest, what: str) -> HttpResponse:
    form = ForgotForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        flows.request_reset(
            request, what, form.cleaned_data["username"], form.cleaned_data["email"]
        )
        return redirect(f"accounts:{what}-forgot-sent")
    return render(request, "accounts/forgot.html", {"form": form, "what": what})


@csrf_protect
@require_http_methods(["GET", "POST"])
def forgot_password(request: HttpRequest) -> HttpResponse:
    return _forgot(request, flows.PASSWORD)


@csrf_protect
@require_http_methods(["GET", "POST"])
def forgot_pin(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        return _forgot_pin_signed_in(request)
    return _forgot(request, flows.PIN)


NO_EMAIL_FOR_LINK = gettext_lazy(
    "No email address is registered for your account, so we cannot send you a link. Please "
    "contact JENCO support."
)


def _forgot_pin_signed_in(request: HttpRequest) -> HttpResponse:
    """A signed-in member is known: one tap mails the link to the registered address, and
    the member stays in the back office (no ID, email or captcha to type again)."""
    member = request.user
    if request.method == "POST":
        if not member.email:
            messages.error(request, NO_EMAIL_FOR_LINK)
        elif flows.email_reset_link(flows.PIN, member, request=request):
            messages.success(
                request,
                _("We sent a link to set a new PIN to %(email)s. It works for %(minutes)s minutes.")
                % {
                    "email": credentials.mask_email(member.email),
                    "minutes": settings.JENCO_RESET_LINK_MINUTES,
                },
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
        "email": credentials.mask_email(member.email) if member.email else "",
        "no_email": NO_EMAIL_FOR_LINK,
        "next": _safe_next(request),
    }
    return render(request, "accounts/forgot_pin_signed_in.html", context)


@require_GET
def forgot_password_sent(request: HttpRequest) -> HttpResponse:
    return _sent(request, flows.PASSWORD)


@require_GET
def forgot_pin_sent(request: HttpRequest) -> HttpResponse:
    return _sent(request, flows.PIN)


@method_decorator(sensitive_post_parameters(), name="dispatch")
@method_decorator(never_cache, name="dispatch")
class ResetConfirmView(PasswordResetConfirmView):
    """Django's reset view (token check, the token moved out of the URL) with our form and
    our flow: new secret twice, captcha, then done; the member is not signed in."""

    what = flows.PASSWORD
    http_method_names = ["get", "post"]

    def dispatch(self, *args, **kwargs):
        response = super().dispatch(*args, **kwargs)
        if kwargs["token"] != self.reset_url_token:
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
        complete = flows.reset_password if self.what == flows.PASSWORD else flows.reset_pin
        token = self.request.session.pop(INTERNAL_RESET_SESSION_TOKEN, "")
        try:
            complete(self.request, self.user, form.cleaned_data[self.new_field], token)
        except flows.LinkAlreadyUsed:
            return self.render_to_response({"validlink": False, "what": self.what})
        return redirect(self.success_url)

    def get_context_data(self, **kwargs):
        return {**super().get_context_data(**kwargs), "what": self.what}


class ResetPasswordView(ResetConfirmView):
    form_class = ResetPasswordForm
    token_generator = flows.RESET[flows.PASSWORD]["token"]
    new_field = "new_password1"
    template_name = "accounts/reset_confirm.html"
    success_url = reverse_lazy("accounts:password-reset-done")


class ResetPinView(ResetConfirmView):
    what = flows.PIN
    form_class = ResetPinForm
    token_generator = flows.RESET[flows.PIN]["token"]
    new_field = "new_pin1"
    template_name = "accounts/reset_confirm.html"
    success_url = reverse_lazy("accounts:pin-reset-done")


@require_GET
def reset_password_done(request: HttpRequest) -> HttpResponse:
    return render(request, "accounts/reset_done.html", {"what": flows.PASSWORD})


@require_GET
def reset_pin_done(request: HttpRequest) -> HttpResponse:
    return render(request, "accounts/reset_done.html", {"what": flows.PIN})


def _sent(request: HttpRequest, what: str) -> HttpResponse:
    context = {
        "what": what,
        "reset_minutes": settings.JENCO_RESET_LINK_MINUTES,
        "per_hour": settings.JENCO_RESET_EMAILS_PER_HOUR,
    }
    return render(request, "accounts/forgot_sent.html", context)
