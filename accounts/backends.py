from asgiref.sync import sync_to_async
from django.contrib.auth.backends import ModelBackend

from accounts import credentials, sign_in_sql


class MemberBackend(ModelBackend):
    """Sign in by member ID, with the published JA defaults for members still flagged, or
    view only with the sub password (`view_only=True`: the sign-in form's checkbox).

    Every attempt costs exactly one hash verification, so neither an unknown ID, a
    default-password account nor one with or without a sub password can be told apart by
    how long the answer takes: the checkbox picks the one secret that is checked, the main
    password or the sub password, never both.
    """

    def authenticate(self, request, username=None, password=None, view_only=False, **kwargs):
        if username is None or password is None:
            return None
        member_id = credentials.normalise_member_id(username)
        member = None
        if credentials.is_member_id(member_id):
            # Whether a second step follows, read in the same statement (accounts.flows
            # .two_step.is_on): a sign-in costs no query more for it.
            member = sign_in_sql.member(member_id)
        if member is None:
            credentials.burn_one_verification(password)
            return None
        if view_only:
            return self._view_only(member, password)
        if credentials.password_matches(member, password) and self.user_can_authenticate(member):
            member.signed_in_with_default_password = member.on_default_password
            member.signed_in_view_only = False
            return member
        return None

    async def aauthenticate(self, request, username=None, password=None, **kwargs):
        # ModelBackend's own would check the password its way: no published defaults, no
        # view-only sign-in, no cost made equal (helper-128). Nothing signs in async today.
        return await sync_to_async(self.authenticate)(
            request, username=username, password=password, **kwargs
        )

    def _view_only(self, member, password):
        # The hash first, whatever the account's state, so a refusal costs what a match does.
        if (
            credentials.sub_password_matches(member, password)
            and credentials.view_only_possible(member)
            and self.user_can_authenticate(member)
        ):
            member.signed_in_with_default_password = False
            member.signed_in_view_only = True
            return member
        return None
