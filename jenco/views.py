"""Project-wide views: nothing here belongs to one app."""

from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.templatetags.static import static
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST, require_safe
from django.views.i18n import set_language as django_set_language

from accounts import view_only
from accounts.flows import mailbox
from accounts.flows.language import change_language


@view_only.allowed
@require_POST
def set_language(request: HttpRequest) -> HttpResponse:
    """Django's language switch; a signed-in member's choice is also saved on the account,
    except in a view-only session or before the mailbox is proved after a sign-in on the
    published defaults (the language of the member's emails is not theirs to change), where
    it is this browser's cookie only until the mailbox code is right (accounts.flows.
    mailbox saves it then)."""
    response = django_set_language(request)
    language = request.POST.get("language")
    if (
        request.user.is_authenticated
        and not view_only.active(request)
        and not mailbox.due(request)
        and language in dict(settings.LANGUAGES)
    ):
        change_language(request, request.user, language)
    return response


SIGN_IN_FORMS = ("accounts:login", "accounts:login-code")


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    """A form refused by CSRF protection (usually a page left open too long): say what to do,
    in the member's language and our layout, not Django's technical page.

    A sign-in form sent again once the first one signed the member in (a second tap) carries
    the token the sign-in replaced: the member is signed in, so on to the back office rather
    than "the page was open too long". Nothing of the post is used but its view-only box: a
    sign-in page left open before a view-only sign-in, sent with the main password, was
    dropped without a word on the view-only dashboard (helper-138), and is told why."""
    signing_in = getattr(request.resolver_match, "view_name", "") in SIGN_IN_FORMS
    if signing_in and request.user.is_authenticated:
        if view_only.active(request) and not request.POST.get("view_only"):
            messages.warning(request, NOT_OVER_VIEW_ONLY)
        return redirect(settings.LOGIN_REDIRECT_URL)
    return render(request, "403_csrf.html", status=403)


NOT_OVER_VIEW_ONLY = gettext_lazy(
    "You are signed in view only, so that sign-in was not made. To sign in with your main "
    "password, sign out first, then sign in again."
)


@view_only.readable
@require_safe
def favicon(request: HttpRequest) -> HttpResponse:
    # Resolved per request: the static manifest may not exist yet when URLs are loaded.
    return HttpResponseRedirect(static("favicon.svg"))  # not permanent: the name changes


@view_only.readable
@require_safe  # load balancers often probe with HEAD
def healthz(request: HttpRequest) -> HttpResponse:
    return HttpResponse("ok", content_type="text/plain")
