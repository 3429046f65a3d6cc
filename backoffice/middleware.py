from django.shortcuts import redirect
from django.urls import reverse

from accounts import credentials

STEP_URLS = {
    credentials.PIN_STEP: "backoffice:profile-pin",
    credentials.PASSWORD_STEP: "backoffice:profile-password",
}


def first_sign_in_gate(get_response):
    """A migrated member changes the PIN, then the password, before anything else (seed p.4).

    Every back office URL leads to the step due; the page there says why.
    """

    def middleware(request):
        # The path first: other pages need not load the session and the member.
        if request.path_info.startswith("/backoffice/") and request.user.is_authenticated:
            step = credentials.first_sign_in_step(request.user)
            if step is not None:
                target = reverse(STEP_URLS[step])
                if request.path_info != target:
                    return redirect(target)
        return get_response(request)

    return middleware
