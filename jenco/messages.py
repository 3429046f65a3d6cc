"""Django's message storage (cookie first, then the session), with the cookie deleted under
the flags it was set with.

CookieStorage sets its cookie Secure and HttpOnly like the session's, but deletes it with a
bare Set-Cookie (HttpResponse.delete_cookie adds Secure only for __Secure-/__Host- names). A
client that keeps a Secure cookie from being replaced by one without the flag (curl did, in
the four-role trial) then kept the message and showed it on every later page.
"""

from django.conf import settings
from django.contrib.messages.storage.cookie import CookieStorage
from django.contrib.messages.storage.fallback import FallbackStorage
from django.contrib.messages.storage.session import SessionStorage


class SecureCookieStorage(CookieStorage):
    def _update_cookie(self, encoded_data, response):
        if encoded_data:
            super()._update_cookie(encoded_data, response)
            return
        response.set_cookie(
            self.cookie_name,
            max_age=0,
            expires="Thu, 01 Jan 1970 00:00:00 GMT",
            domain=settings.SESSION_COOKIE_DOMAIN,
            secure=settings.SESSION_COOKIE_SECURE or None,
            httponly=settings.SESSION_COOKIE_HTTPONLY or None,
            samesite=settings.SESSION_COOKIE_SAMESITE,
        )


class MessageStorage(FallbackStorage):
    storage_classes = (SecureCookieStorage, SessionStorage)
