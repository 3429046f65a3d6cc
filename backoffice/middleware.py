from django.contrib import messages
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.functional import SimpleLazyObject
from django.utils.translation import gettext_lazy

from accounts import credentials
from accounts.flows import mailbox, two_step

STEP_URLS = {
    credentials.Step.MAILBOX: "backoffice:first-sign-in-mailbox",
    credentials.Step.PIN: "backoffice:profile-pin",
    credentials.Step.PASSWORD: "backoffice:profile-password",
}


BEFORE_ANYTHING_ELSE = gettext_lazy(
    "Please finish this step first: the other pages open once it is done."
)


def first_sign_in_gate(get_response):
    """A migrated member proves the mailbox, changes the PIN, then the password, before
    anything else (seed p.4; the mailbox step since issue 12).

    Every back office URL leads to the step due; the page there says why.
    """

    # Every back office and admin page, wherever the root URLconf mounts them.
    gated = None

    def middleware(request):
        nonlocal gated
        if gated is None:
            gated = (reverse("backoffice:dashboard"), reverse("admin:index"))
        # The path first: other pages need not load the session and the member.
        # Admin too: a staff account still on the published defaults proves its mailbox and
        # changes both secrets before any staff page opens.
        if request.path_info.startswith(gated) and request.user.is_authenticated:
            step = credentials.first_sign_in_step(
                request.user, mailbox_proved=mailbox.proved(request)
            )
            request.first_sign_in_step = step
            # Until this sign-in proves the mailbox, whoever typed the published password sees
            # no name.
            request.member_name_hidden = step is credentials.Step.MAILBOX
            if step is not None:
                target = reverse(STEP_URLS[step])
                if request.path_info != target:
                    if request.method == "GET" and request.path_info != gated[0]:
                        # A page asked for from the menu (Profile, Security) lands on the step
                        # with a word why, not as if the link were broken (helper-159). The
                        # home, where every sign-in goes, needs none.
                        messages.info(request, BEFORE_ANYTHING_ELSE)
                    return redirect(target)
        else:
            # The pages outside the back office a signed-in visitor can open (forgot password,
            # registration, the sign-in form posted again) draw the header too; whether it
            # names the member is decided only if it is drawn.
            request.member_name_hidden = SimpleLazyObject(
                lambda: request.user.is_authenticated and mailbox.due(request)
            )
        return get_response(request)

    return middleware


def staff_two_step_gate(get_response):
    """With JENCO_STAFF_TWO_STEP on, a staff member without two-step verification is sent to
    set it up before any admin page opens (issue 16). Admin's own sign-in page leads to ours
    and needs no gate."""

    admin = None

    def middleware(request):
        nonlocal admin
        if admin is None:
            admin = reverse("admin:index")
        if (
            request.path_info.startswith(admin)
            and request.user.is_authenticated
            and two_step.required_for_staff(request.user)
            and not two_step.is_on(request.user)
        ):
            return redirect("backoffice:two-step-setup")  # whose page says why
        return get_response(request)

    return middleware
