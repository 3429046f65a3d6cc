"""Passkeys (WebAuthn, issue 16): added and removed under Account > Security, used as the
second step of a sign-in (/login/code/) or to sign in on their own (/login/passkey/).

Each ceremony's page carries its options (challenge included) and the browser posts the
authenticator's answer back in an ordinary form. The challenge waits in the session for that
one answer and is gone once it is checked, right or wrong: an answer replayed later, or
posted to another member's sign-in, finds nothing to match. The checks themselves are
py_webauthn's (Duo Labs): origin, relying party, challenge, signature, user presence.
"""

import json
import re
import time
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone
from django.utils.crypto import salted_hmac
from webauthn import (
    generate_authentication_options,
    generate_registration_options,
    options_to_json,
    verify_authentication_response,
    verify_registration_response,
)
from webauthn.helpers import base64url_to_bytes, bytes_to_base64url
from webauthn.helpers.exceptions import WebAuthnException
from webauthn.helpers.structs import (
    AuthenticatorSelectionCriteria,
    PublicKeyCredentialDescriptor,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

from accounts import emails
from accounts.audit import Kind, record
from accounts.flows import SENT_TWICE
from accounts.models import Member, Passkey

MAX_PASSKEYS = 10
CHALLENGE = "passkey_challenge"  # session key: {"purpose", "challenge", "since"}
CHALLENGE_SECONDS = 300
# Adding one takes two steps: the name and the PIN, then the device makes the passkey. The
# first step's answer waits in the session, so the device is asked only once both are right:
# a refused name or a mistyped PIN never leaves a passkey on the phone that this site does not
# keep. It is one-shot and short, as the PIN it stands for: gone with the second step's post
# (kept or not), on leaving for the Security page, and after CHALLENGE_SECONDS; the page stops
# the browser from asking the device once that time has passed (passkeys.js).
READY = "passkey_add_ready"  # session key: {"name", "since"}
READY_SECONDS = CHALLENGE_SECONDS
ADDED = "passkey_added"  # session key: the credential ID this session added last
# The longest answer a browser sends is a few kilobytes; anything far longer is not one.
MAX_ANSWER = 20_000
# A credential's ID as browsers send it: base64url, of at most 1,023 bytes (WebAuthn).
CREDENTIAL_ID = re.compile(r"[A-Za-z0-9_-]{1,1364}")


class Purpose:
    ADD = "add"
    SECOND_STEP = "second-step"
    SIGN_IN = "sign-in"


class Refused(Exception):
    """The browser's answer does not prove the passkey (wrong, replayed, another account's,
    expired, malformed). Nothing changed. `member`: whose passkey it named, when known."""

    def __init__(self, member=None):
        super().__init__()
        self.member = member


def relying_party(request) -> tuple[str, str]:
    """(RP ID, origin) of this request: the host members see, behind the proxy too."""
    origin = f"{request.scheme}://{request.get_host()}"
    return request.get_host().rsplit(":", 1)[0].strip("[]"), origin


def user_handle(member) -> bytes:
    """The opaque user ID the passkey keeps: no member ID, email or number in it."""
    return salted_hmac("accounts.passkeys.user", str(member.pk), algorithm="sha256").digest()


def _remember(request, purpose: str, challenge: bytes) -> None:
    request.session[CHALLENGE] = {
        "purpose": purpose,
        "challenge": bytes_to_base64url(challenge),
        "since": int(time.time()),
    }


def _take_challenge(request, purpose: str) -> bytes:
    """The challenge waiting for this answer, used up by taking it."""
    waiting = request.session.pop(CHALLENGE, None)
    if not isinstance(waiting, dict) or waiting.get("purpose") != purpose:
        raise Refused
    if time.time() - waiting.get("since", 0) > CHALLENGE_SECONDS:
        raise Refused
    return base64url_to_bytes(waiting["challenge"])


def _for_page(options) -> str:
    """The options as JSON safe inside the page's <script type="application/json"> (the
    member's name is in them): the characters HTML gives meaning to escaped, as json_script
    does."""
    escapes = {ord("<"): "\\u003C", ord(">"): "\\u003E", ord("&"): "\\u0026"}
    return options_to_json(options).translate(escapes)


def _answer(typed: str) -> dict:
    if not typed or len(typed) > MAX_ANSWER:
        raise Refused
    try:
        answer = json.loads(typed)
    except (ValueError, RecursionError) as error:  # 10,000 "[": too deep (helper-99)
        raise Refused from error
    if not isinstance(answer, dict) or not isinstance(answer.get("id"), str):
        raise Refused
    if not CREDENTIAL_ID.fullmatch(answer["id"]):  # NUL or a lone surrogate: never a query
        raise Refused
    if not isinstance(answer.get("response"), dict):
        raise Refused
    return answer


# --- Adding one -----------------------------------------------------------------------------


def get_ready(request, name: str) -> None:
    """The name and the PIN were right: the device may make the passkey now."""
    request.session[READY] = {"name": name, "since": int(time.time())}


def ready_name(request) -> str | None:
    """The name of the passkey this session is ready to add, or None (not named yet, or
    named too long ago)."""
    return ready(request)[0]


def ready(request) -> tuple[str | None, int]:
    """The name of the passkey this session is ready to add, and the seconds left to add it;
    (None, 0) when it is not."""
    waiting = request.session.get(READY)
    if not isinstance(waiting, dict) or not isinstance(waiting.get("name"), str):
        return None, 0
    left = int(waiting.get("since", 0) + READY_SECONDS - time.time())
    return (waiting["name"], left) if left > 0 else (None, 0)


def not_ready(request) -> None:
    """The second step was sent, or left: the name and PIN must be given again."""
    if READY in request.session:
        del request.session[READY]


def added_here(request, typed_answer: str) -> bool:
    """Whether `typed_answer` is the passkey this session added a moment ago (that form
    sent twice)."""
    added = request.session.get(ADDED)
    if not isinstance(added, dict) or time.time() - added.get("at", 0) > SENT_TWICE.seconds:
        return False
    try:
        return _answer(typed_answer)["id"] == added.get("id")
    except Refused:
        return False


def add_options(request, member) -> str:
    """The options of a new passkey, as the JSON the page hands the browser."""
    rp_id, _ = relying_party(request)
    options = generate_registration_options(
        rp_id=rp_id,
        rp_name="JENCO",
        user_id=user_handle(member),
        user_name=member.member_id,
        user_display_name=member.get_full_name() or member.member_id,
        authenticator_selection=AuthenticatorSelectionCriteria(
            resident_key=ResidentKeyRequirement.REQUIRED,
            user_verification=UserVerificationRequirement.PREFERRED,
        ),
        exclude_credentials=[
            PublicKeyCredentialDescriptor(id=base64url_to_bytes(each))
            for each in member.passkeys.values_list("credential_id", flat=True)
        ],
    )
    _remember(request, Purpose.ADD, options.challenge)
    return _for_page(options)


@dataclass(frozen=True)
class NewPasskey:
    credential_id: str  # base64url
    public_key: bytes
    sign_count: int
    backed_up: bool
    transports: list[str]


def verify_new(request, typed_answer: str) -> NewPasskey:
    """The passkey the browser just made, checked against this session's challenge (used up
    by this). Raises Refused."""
    challenge = _take_challenge(request, Purpose.ADD)
    answer = _answer(typed_answer)
    rp_id, origin = relying_party(request)
    try:
        made = verify_registration_response(
            credential=answer,
            expected_challenge=challenge,
            expected_rp_id=rp_id,
            expected_origin=origin,
        )
    except (WebAuthnException, ValueError, KeyError, TypeError, AttributeError) as error:
        raise Refused from error
    transports = answer.get("response", {}).get("transports") or []
    return NewPasskey(
        credential_id=bytes_to_base64url(made.credential_id),
        public_key=made.credential_public_key,
        sign_count=made.sign_count,
        backed_up=made.credential_backed_up,
        transports=[each[:20] for each in transports if isinstance(each, str)][:8],
    )


def add(request, member, name: str, new: NewPasskey) -> Passkey:
    """Keep the passkey, logged and announced by email. Raises Refused when it is already
    kept (the same passkey posted twice), or the member has MAX_PASSKEYS."""
    with transaction.atomic():
        member = Member.objects.hold(member.pk, whole=True)
        if Passkey.objects.filter(credential_id=new.credential_id).exists():
            raise Refused
        if member.passkeys.count() >= MAX_PASSKEYS:
            raise Refused
        passkey = Passkey.objects.create(
            member=member,
            name=name,
            credential_id=new.credential_id,
            public_key=new.public_key,
            sign_count=new.sign_count,
            transports=new.transports,
            backed_up=new.backed_up,
        )
        record(request, Kind.PASSKEY_ADDED, member, details={"name": name})
        emails.send_member_email(member, "passkey_added", {"passkey_name": name})
    request.session[ADDED] = {"id": new.credential_id, "at": int(time.time())}
    return passkey


@transaction.atomic
def remove(request, member, passkey: Passkey) -> bool:
    """Remove the passkey, logged and announced by email; False if it was gone already (the
    same form sent from two tabs, or support's reset while the member's row was waited for):
    nothing is logged or mailed twice (helper-143)."""
    Member.objects.hold(member.pk)
    deleted, _ = Passkey.objects.filter(pk=passkey.pk, member=member).delete()
    if not deleted:
        return False
    record(request, Kind.PASSKEY_REMOVED, member, details={"name": passkey.name})
    emails.send_member_email(member, "passkey_removed", {"passkey_name": passkey.name})
    return True


# --- Using one ------------------------------------------------------------------------------


def sign_in_options(request, member=None) -> str:
    """Options to ask for a passkey: the member's own (second step), or any passkey made for
    this site (signing in with a passkey alone: the browser offers the ones it holds)."""
    rp_id, _ = relying_party(request)
    allow = []
    if member is not None:
        allow = [
            PublicKeyCredentialDescriptor(id=base64url_to_bytes(each.credential_id))
            for each in member.passkeys.all()
        ]
    options = generate_authentication_options(
        rp_id=rp_id,
        allow_credentials=allow,
        user_verification=(
            UserVerificationRequirement.PREFERRED
            if member is not None
            else UserVerificationRequirement.REQUIRED
        ),
    )
    _remember(request, Purpose.SECOND_STEP if member else Purpose.SIGN_IN, options.challenge)
    return _for_page(options)


@dataclass(frozen=True)
class Used:
    member: Member
    passkey: Passkey


def check(request, typed_answer: str, member=None) -> Used:
    """The passkey the browser's answer proves: one of `member`'s (second step) or, with no
    member, whichever member's passkey it is (sign-in with a passkey alone, which must also
    prove the person: user verification). Raises Refused, logged against the member when
    one is known."""
    purpose = Purpose.SECOND_STEP if member is not None else Purpose.SIGN_IN
    try:
        return _check(request, purpose, typed_answer, member)
    except Refused as refused:
        if member is not None or refused.member is not None:
            record(request, Kind.PASSKEY_FAILED, member or refused.member)
        raise


def _check(request, purpose: str, typed_answer: str, member) -> Used:
    challenge = _take_challenge(request, purpose)
    answer = _answer(typed_answer)
    rp_id, origin = relying_party(request)
    if member is not None:  # the second step: one of this member's passkeys, or none
        owner = member.pk
    else:  # whoever's passkey it is
        owner = (
            Passkey.objects.filter(credential_id=answer["id"])
            .values_list("member", flat=True)
            .first()
        )
        if owner is None:
            raise Refused
    with transaction.atomic():
        # Its member's row first (Member.objects.hold), then the passkey's, which support's
        # reset or the member's removal may have deleted meanwhile.
        try:
            Member.objects.hold(owner)
        except Member.DoesNotExist:
            raise Refused from None
        passkey = (
            Passkey.objects.select_for_update()
            .select_related("member")
            .filter(credential_id=answer["id"], member=owner)
            .first()
        )
        if passkey is None:
            raise Refused
        handle = answer.get("response", {}).get("userHandle")
        if handle and handle != bytes_to_base64url(user_handle(passkey.member)):
            raise Refused
        try:
            proved = verify_authentication_response(
                credential=answer,
                expected_challenge=challenge,
                expected_rp_id=rp_id,
                expected_origin=origin,
                credential_public_key=bytes(passkey.public_key),
                credential_current_sign_count=passkey.sign_count,
                require_user_verification=purpose == Purpose.SIGN_IN,
            )
        except (WebAuthnException, ValueError, KeyError, TypeError, AttributeError) as error:
            raise Refused(passkey.member) from error
        passkey.sign_count = proved.new_sign_count
        passkey.last_used = timezone.now()
        passkey.save(update_fields=["sign_count", "last_used"])
    return Used(member=passkey.member, passkey=passkey)
