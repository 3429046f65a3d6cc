"""The emailed reset links' tokens: Django's, plus "only the newest link works".

Django's token already goes void when the secret it sets changes, when the member signs in
(with the main password: a view-only sign-in is not the member's last sign-in, so whoever
holds the sub password cannot void the member's link) and when it expires. Not a sign-in on
the published default password, which anyone may make (PasswordResetToken). The page for an
unusable link tells the member a newer link replaces an older one, so a token made before
the member's latest request of its kind is refused: a request (the member's or support
staff's) is logged before its link is made (in the worker), so every older link was made
before the latest request's log entry.
"""

import datetime

from django.contrib.auth.tokens import PasswordResetTokenGenerator
from django.utils.http import base36_to_int

from accounts.models import SecurityEvent

Kind = SecurityEvent.Kind
# The token counts whole seconds; the log keeps microseconds.
_SAME_SECOND = datetime.timedelta(seconds=1)


class NewestLinkOnly(PasswordResetTokenGenerator):
    requested: str  # the security-log kind written when a link of this kind is asked for

    def check_token(self, user, token):
        if not super().check_token(user, token):
            return False
        made_seconds_ago = self._num_seconds(self._now()) - base36_to_int(token.split("-")[0])
        made = datetime.datetime.now(datetime.UTC) - datetime.timedelta(seconds=made_seconds_ago)
        latest = (
            SecurityEvent.objects.filter(member=user, kind=self.requested)
            .values_list("created", flat=True)
            .first()  # SecurityEvent orders newest first
        )
        return latest is None or made + _SAME_SECOND >= latest


class PasswordResetToken(NewestLinkOnly):
    """Django's password reset token (same salt: links already mailed keep working)."""

    requested = Kind.PASSWORD_RESET_REQUESTED

    def _make_hash_value(self, member, timestamp):
        # Django's, but a member still on the published default password has no sign-in of
        # their own to void the link with: anyone who knew the member ID signed in on the
        # default, wrote the last sign-in and voided the link the mailbox page offers when
        # the codes are spent (helper-150). Setting the password changes the hash as ever.
        if member.on_default_password:
            return f"{member.pk}{member.password}{timestamp}{member.email or ''}"
        return super()._make_hash_value(member, timestamp)


class PinResetToken(NewestLinkOnly):
    """Bound to the PIN as Django's is to the password: setting a PIN voids every earlier link."""

    key_salt = "accounts.tokens.PinResetTokenGenerator"
    requested = Kind.PIN_RESET_REQUESTED

    def _make_hash_value(self, member, timestamp):
        return f"{member.pk}{member.pin}{member.on_default_pin}{timestamp}{member.email}"


password_reset_token = PasswordResetToken()
pin_reset_token = PinResetToken()
