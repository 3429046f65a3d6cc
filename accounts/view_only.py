"""The view-only sign-in (the sub password): the back office read-only, enforced here, once.

A session signed in with the sub password holds SESSION_KEY: a fingerprint of the sub
password's hash. The middleware reads it on every request, sets `request.view_only`, and:

- ends the session when the fingerprint no longer matches (the member changed or removed the
  sub password: every view-only session ends, the member's own sessions stay);
- refuses every view not marked as safe for it, with a page that says why (403). A view is
  marked `@view_only.readable` (its GET and HEAD show; a POST is still refused) or
  `@view_only.allowed` (any method: signing out, the site's language cookie, signing in
  again). So a new view is refused to a view-only session until someone marks it, and a
  form page never even renders: no form of a change is reachable.

A view-only session is never raised to a full one: the only way is a new sign-in with the
main password, which starts a new session (accounts.flows.sign_in).
"""

from django.contrib import auth
from django.shortcuts import render
from django.utils.crypto import constant_time_compare, salted_hmac

from accounts.middleware import tell_signed_out

SESSION_KEY = "view_only"
SAFE_METHODS = ("GET", "HEAD")


def fingerprint(member) -> str:
    """Changes whenever the sub password does (set, changed or removed); tells nothing about it."""
    value = f"{member.pk}:{member.sub_password}"
    return salted_hmac("accounts.view_only", value, algorithm="sha256").hexdigest()


def start(request, member) -> None:
    """Mark this (new) session as view-only; called by the sign-in, nothing else."""
    request.session[SESSION_KEY] = fingerprint(member)


def active(request) -> bool:
    """Whether this request comes from a view-only session."""
    return getattr(request, "view_only", False)


def readable(view):
    """A page a view-only session may look at (GET, HEAD). It must change nothing."""
    view.view_only_readable = True
    return view


def allowed(view):
    """A view a view-only session may use with any method. It must change nothing on the
    account: sign out, sign in (a new session), the language cookie."""
    view.view_only_allowed = True
    return view


def refused(request):
    """What a view-only session gets instead of a change or a form: why, and what to do."""
    return render(request, "accounts/view_only_refused.html", status=403)


class ViewOnlyMiddleware:
    """After the session and authentication middleware; see the module's docstring."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.view_only = False
        marker = request.session.get(SESSION_KEY)
        if marker is not None:
            user = request.user
            if user.is_authenticated and constant_time_compare(marker, fingerprint(user)):
                request.view_only = True
            else:  # the sub password changed or went: this view-only session ends
                auth.logout(request)
                tell_signed_out(request)
        return self.get_response(request)

    def process_view(self, request, view_func, view_args, view_kwargs):
        if not request.view_only or getattr(view_func, "view_only_allowed", False):
            return None
        if request.method in SAFE_METHODS and getattr(view_func, "view_only_readable", False):
            return None
        return refused(request)
