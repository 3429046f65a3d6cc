import functools
import time

from django.conf import settings
from django.contrib import auth, messages
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from accounts.sessions import take_ended_mark

SEEN_AT = "seen_at"


def tell_signed_out(request) -> None:
    """What a device whose sign-in was ended from elsewhere reads on the page it lands on
    (the sign-in page, where the back office sends it)."""
    if worth_telling(request):
        messages.info(request, _("You were signed out on this device. Please sign in again."))


def worth_telling(request) -> bool:
    """Whether this request's page may say the device was signed out elsewhere (helper-158):
    not Sign out, which says it signed out; not the health check, which reads no session;
    not a post: the sign-in post of the device ended elsewhere carried it onto its new
    sign-in's dashboard, and a device that signs in again has nothing left to hear."""
    return request.method in ("GET", "HEAD") and request.path not in _untold_paths()


@functools.cache
def _untold_paths() -> frozenset[str]:
    return frozenset({reverse("accounts:logout"), reverse("healthz")})


def ended_elsewhere(get_response):
    """Tell a device, once, that its sign-in was ended from elsewhere: it landed on the
    sign-in page without a word, as if it had never signed in.

    Only the browser whose cookie names a session of ours that was ended hears it: a session
    a new password or PIN ended (still stored, it signs no one in: Django's get_user ends it
    here), or one deleted by "sign out" from another device or by support (the store marked
    it first, accounts.sessions.mark_ended). A made-up cookie, an expired session and the
    member's own Sign out (which ends the session and its cookie, unmarked) hear nothing.
    """

    def middleware(request):
        cookie = request.COOKIES.get(settings.SESSION_COOKIE_NAME)
        if cookie is not None and worth_telling(request):
            ended = _ended_how(request, cookie)
            if ended is CLOSED:
                # Deactivated: "sign in again" would not work (helper-164).
                messages.info(request, ACCOUNT_CLOSED)
            elif ended is not None:
                tell_signed_out(request)
        return get_response(request)

    return middleware


ENDED, CLOSED = "ended", "closed"
ACCOUNT_CLOSED = gettext_lazy(
    "This account cannot be used at the moment. Please contact JENCO Support."
)


def _ended_how(request, cookie: str) -> str | None:
    """How this browser's sign-in ended, if it did: ENDED, or CLOSED for an account since
    deactivated; None if it did not (or it never was one of ours)."""
    session = request.session
    if session.get(auth.SESSION_KEY) is not None:
        if request.user.is_authenticated:
            return None
        if auth.SESSION_KEY not in session:
            return ENDED  # the password or PIN changed since this sign-in: get_user flushed it
        # The account is gone or deactivated, whose session Django leaves: ended here, told
        # once.
        member_pk = session[auth.SESSION_KEY]
        session.flush()
        closed = auth.get_user_model().objects.filter(pk=member_pk, is_active=False).exists()
        return CLOSED if closed else ENDED
    if session.session_key is None and take_ended_mark(cookie):
        return ENDED
    return None


def session_lifetime(get_response):
    """End a sign-in JENCO_SESSION_MAX_SECONDS after it began, however active it has been,
    and keep an active one from the idle timeout (SESSION_COOKIE_AGE).

    The idle timeout counts from the last time the session was written. Rewriting it on every
    page (SESSION_SAVE_EVERY_REQUEST) made each page view a database write; here a signed-in
    session is rewritten only when it was last written more than JENCO_SESSION_REFRESH_SECONDS
    ago, which renews the row's expiry and the cookie's together.
    """

    def middleware(request):
        session = request.session
        if session.get(auth.SESSION_KEY) is not None:
            now = int(time.time())
            started = session.get("signed_in_at")
            if started is not None and now - started > settings.JENCO_SESSION_MAX_SECONDS:
                auth.logout(request)
            elif now - session.get(SEEN_AT, 0) > settings.JENCO_SESSION_REFRESH_SECONDS:
                session[SEEN_AT] = now
        return get_response(request)

    return middleware
