"""The member's preferred language: what their pages and emails are in."""

from accounts.audit import Kind, record


def change_language(request, member, language: str) -> bool:
    """Save `language` as the member's; False when it already was."""
    if member.preferred_language == language:
        return False
    member.preferred_language = language
    member.save(update_fields=["preferred_language"])
    record(request, Kind.LANGUAGE_CHANGED, member, details={"language": language})
    return True
