"""A form post that says it is not in UTF-8 is a 400, once.

Django refuses an `application/x-www-form-urlencoded` body in any other charset by raising
BadRequest whenever `request.POST` is read, and every reader raises again: the CSRF check,
then the 400 page's own CSRF check, then the 500 page's, so each such post was answered with
gunicorn's bare 500 and about 110 lines of tracebacks in the log (helper-102). No browser
sends one (forms post in UTF-8, the pages' charset). Refused here, before anything reads the
form, with the site's 400 page and django.request's one line ("Bad Request: /login/").
"""

from django.core.exceptions import BadRequest
from django.http import QueryDict
from django.utils.datastructures import MultiValueDict
from django.views.defaults import bad_request


def forms_in_utf8(get_response):
    def middleware(request):
        if _form_not_in_utf8(request):
            # An empty form, as Django leaves one it could not parse: whatever reads it now
            # (the 400 page's CSRF check) finds nothing rather than raising again.
            request._post, request._files = QueryDict(), MultiValueDict()
            return bad_request(request, BadRequest("form not in UTF-8"))
        return get_response(request)

    return middleware


FORMS = ("application/x-www-form-urlencoded", "multipart/form-data")


def _form_not_in_utf8(request) -> bool:
    """A form declaring a charset other than UTF-8: what Django refuses when an urlencoded
    form is read (HttpRequest._load_post_and_files), and, in a multipart form, what it takes
    for the fields' charset, where a codec that is not a text encoding (rot13, base64)
    raised LookupError: a 500 (helper-103; on the app servers jenco/wsgi.py has dropped such
    a charset before the request is built). Browsers send neither."""
    return (
        request.method == "POST"
        and request.content_type in FORMS
        and request.encoding is not None
        and request.encoding.lower() != "utf-8"
    )
