from django.contrib.auth.tokens import PasswordResetTokenGenerator, default_token_generator


class PinResetTokenGenerator(PasswordResetTokenGenerator):
    """Django's reset token, bound to the PIN: setting a PIN voids every earlier link."""

    key_salt = "accounts.tokens.PinResetTokenGenerator"

    def _make_hash_value(self, member, timestamp):
        return f"{member.pk}{member.pin}{member.on_default_pin}{timestamp}{member.email}"


password_reset_token = default_token_generator
pin_reset_token = PinResetTokenGenerator()
