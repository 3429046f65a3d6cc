"""No redirect carries a long address.

A signed-out request for a page is sent to the sign-in with the whole address it asked for
(`/login/?next=…`), and the language switch sends the browser back to the `next` it was given.
An address of a few KB made a Location header longer than nginx holds for an app server's
headers: nginx answered 502 and counted it against the app server, and six such requests took
both out of service for everyone for ten seconds (helper-95's attack trial). No page of the
site has an address anywhere near LONGEST, so a longer one is cut to its path, or to the top
page: the member signs in and lands on the dashboard, as from a bare /login/.
"""

from urllib.parse import urlsplit

LONGEST = 2000  # characters; deploy/nginx/jenco.conf holds 16 KB of an app server's headers


def short_redirects(get_response):
    def middleware(request):
        response = get_response(request)
        location = response.get("Location")
        if location is not None and len(location) > LONGEST:
            response["Location"] = _short(location)
        return response

    return middleware


def _short(location: str) -> str:
    """The address's path, if it is one of this site's and short: never one a browser reads
    as another site's (`//evil.example/`, `/\\evil.example/`: the path of
    https://this.site//evil.example/, which the language switch accepts as ours; helper-99)."""
    path = urlsplit(location).path
    if len(path) > LONGEST or not path.startswith("/") or path.startswith(("//", "/\\")):
        return "/"
    return path
