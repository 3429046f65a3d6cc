"""Cookies are deleted under the flags they were set with.

Django sets the session and messages cookies Secure and HttpOnly (SESSION_COOKIE_SECURE,
SESSION_COOKIE_HTTPONLY), but deletes them with a bare Set-Cookie: HttpResponse.delete_cookie
adds Secure only for __Secure-/__Host- names. A client that keeps a Secure cookie from being
replaced by one without the flag then keeps it: in the four-role trial, curl kept a shown
message and displayed 「メールアドレスが確認できました」 on every later page, and kept the
session cookie after signing out (dead on the server, but still sent).
"""

from django.conf import settings
from django.contrib.messages.storage.cookie import CookieStorage


def deleted_cookies_keep_their_flags(get_response):
    """First in MIDDLEWARE, so it sees the response after the session and messages
    middleware have set or deleted their cookies."""
    locked = (settings.SESSION_COOKIE_NAME, CookieStorage.cookie_name)

    def middleware(request):
        response = get_response(request)
        for name in locked:
            cookie = response.cookies.get(name)
            if cookie is not None and cookie["max-age"] == 0:
                cookie["secure"] = settings.SESSION_COOKIE_SECURE or ""
                cookie["httponly"] = settings.SESSION_COOKIE_HTTPONLY or ""
        return response

    return middleware
