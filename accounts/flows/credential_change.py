"""Writing a new secret: of two changes racing from two sessions, the second loses."""

from django.contrib.auth.hashers import make_password

from accounts.models import Member


class ChangedMeanwhile(Exception):
    """Another session changed this secret between our check and our write."""


def replace(member, field: str, values: dict) -> None:
    """Write `values` only if `field` still holds what was checked: of two changes racing
    from two sessions, the second finds the secret changed and is refused."""
    if not Member.objects.filter(pk=member.pk, **{field: getattr(member, field)}).update(**values):
        raise ChangedMeanwhile
    for name, value in values.items():
        setattr(member, name, value)


def save_new_pin(member, new_pin: str) -> None:
    """A new PIN leaves the default behind and ends any PIN lock."""
    replace(
        member,
        "pin",
        {
            "pin": make_password(new_pin),
            "on_default_pin": False,
            "pin_failures": 0,
            "pin_locked_until": None,
        },
    )


def save_new_password(member, new_password: str) -> None:
    """A new password leaves the default behind; the changed hash ends other sessions. On an
    account without a PIN, whose password confirms its changes, it ends that lock too (as a
    new PIN ends the PIN's): a reset by email is the way out of a forgotten password."""
    values = {"password": make_password(new_password), "on_default_password": False}
    if not member.has_pin:
        values |= {"pin_failures": 0, "pin_locked_until": None}
    replace(member, "password", values)


def save_new_sub_password(member, new_sub_password: str) -> None:
    """Every view-only session of the member ends with the old sub password
    (accounts.view_only); the member's own sessions stay."""
    replace(member, "sub_password", {"sub_password": make_password(new_sub_password)})


def save_no_sub_password(member) -> None:
    """No sub password: view-only sign-in is off, and every view-only session ends."""
    replace(member, "sub_password", {"sub_password": ""})
