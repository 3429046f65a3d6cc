"""HEAD answered as GET is, without the body.

Monitors and link checkers ask with HEAD, many of them by default. The pages with a form
accept GET and POST only, and answered HEAD with 405: a monitor pointed at the site's address
(/ → /login/) reported it down. Those views read every method that is not GET as a post, so
HEAD is not let through to them as HEAD: every middleware and view sees a GET, and the body
is dropped here (the app servers drop it too, the test client and runserver as well). A GET
changes nothing a HEAD should not: link checkers open the emailed links with GET already.
"""


def head_as_get(get_response):
    def middleware(request):
        if request.method != "HEAD":
            return get_response(request)
        request.method = "GET"
        response = get_response(request)
        if not response.streaming:
            length = len(response.content)
            response.content = b""
            response["Content-Length"] = str(length)
        return response

    return middleware
