import time

from django.conf import settings
from django.contrib import auth


def session_lifetime(get_response):
    """End a sign-in JENCO_SESSION_MAX_SECONDS after it began, however active it has been
    (the idle timeout is the session cookie's age, renewed on every request)."""

    def middleware(request):
        started = request.session.get("signed_in_at")
        if started is not None and time.time() - started > settings.JENCO_SESSION_MAX_SECONDS:
            auth.logout(request)
        return get_response(request)

    return middleware
