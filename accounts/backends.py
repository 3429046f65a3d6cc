from django.contrib.auth.backends import ModelBackend

from accounts import credentials
from accounts.models import Member


class MemberBackend(ModelBackend):
    """Sign in by member ID, with the published JA defaults for members still flagged.

    Every attempt costs exactly one hash verification, so neither an unknown ID nor a
    default-password account can be told apart by how long the answer takes.
    """

    def authenticate(self, request, username=None, password=None, **kwargs):
        if username is None or password is None:
            return None
        member_id = credentials.normalise_member_id(username)
        member = None
        if credentials.is_member_id(member_id):
            member = Member.objects.filter(member_id=member_id).first()
        if member is None:
            credentials.burn_one_verification(password)
            return None
        if credentials.password_matches(member, password) and self.user_can_authenticate(member):
            member.signed_in_with_default_password = member.on_default_password
            return member
        return None
