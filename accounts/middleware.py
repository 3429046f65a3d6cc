import time

from django.conf import settings
from django.contrib import auth

SEEN_AT = "seen_at"


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
