"""Members brought over from JA: how such an account starts out, and how far it has come."""

from django.utils import timezone

from accounts import credentials
from accounts.models import Member


def ja_member(
    member_id: str,
    *,
    name: str = "",
    email: str = "",
    id_document_number: str = "",
    preferred_language: str = Member.Language.JA,
    now=None,
) -> Member:
    """An unsaved member on the published default password and PIN (seed page 1).

    No hash is computed: the flags say the defaults apply, and sign-in verifies against one
    hash of the published default (see credentials.password_matches). That keeps an import
    of 100,000 members to seconds instead of hours.
    """
    now = now or timezone.now()
    return Member(
        member_id=member_id,
        name=name,
        email=email,
        id_document_number=id_document_number,
        preferred_language=preferred_language,
        password=credentials.unusable_secret(),
        on_default_password=True,
        on_default_pin=True,
        origin=Member.Origin.JA,
        imported_at=now,
        date_joined=now,
    )
