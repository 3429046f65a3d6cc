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
        user = request.user
        if user.is_authenticated and request.path_info.startswith("/backoffice/"):
            step = credentials.first_sign_in_step(user)
            if step is not None:
                target = reverse(STEP_URLS[step])
                if request.path_info != target:
                    return redirect(target)
        return get_response(request)

    return middleware
