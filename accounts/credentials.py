"""The rules about member IDs, PINs and passwords, each written once.

Forms, views, admin, commands and tests call these; nothing else re-implements them.
"""

import enum
import hmac
import re
import secrets
import unicodedata
from dataclasses import dataclass
from functools import cache

from django.conf import settings
from django.contrib.auth import password_validation
from django.contrib.auth.hashers import UNUSABLE_PASSWORD_PREFIX, check_password, make_password
from django.contrib.auth.password_validation import UserAttributeSimilarityValidator
from django.core.exceptions import ValidationError
from django.core.validators import EmailValidator
from django.utils import timezone
from django.utils.deconstruct import deconstructible
from django.utils.encoding import punycode
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

MEMBER_ID_RE = re.compile(r"JPN[0-9]{7}")
MEMBER_ID_FORMAT_ERROR = gettext_lazy(
    "Enter your member ID as JPN followed by 7 digits, for example JPN1234567."
)
PIN_LENGTH = 6
# What validate_new_password asks of a password, said before the member breaks a rule.
PASSWORD_RULES = gettext_lazy(
    "At least 8 characters, not only digits, not a common password, not like your member ID, "
    "name or email, and not the published default password."
)

# Spaces and hyphens of every width, including the long-vowel mark a Japanese IME gives for "-".
_SEPARATORS = re.compile(r"[\s\-‐‑‒–—―−ー]+")


def normalise_member_id(raw: str) -> str:
    """What a member typed, in the canonical form JPN1234567 when it can be.

    NFKC turns full-width ＪＰＮ１２３４５６７ into ASCII; spaces and hyphens (of every width)
    go; letters are upper-cased. The result is not checked: see `is_member_id`.
    """
    value = raw
    # Repeat until stable: removing a space can let NFKC compose what it split ("A´").
    for _attempt in range(4):
        normal = _SEPARATORS.sub("", unicodedata.normalize("NFKC", value)).upper()
        if normal == value:
            break
        value = normal
    return value


def is_member_id(value: str) -> bool:
    return MEMBER_ID_RE.fullmatch(value) is not None


def printable(text: str, limit: int = 64) -> str:
    """What was typed, safe to log or store: no control characters (NUL is refused by
    PostgreSQL), at most `limit` characters."""
    return "".join(ch for ch in text if ch.isprintable())[:limit]


# A line break typed inside an Excel cell (Alt+Enter) or a shell argument, and a tab.
LINE_BREAKS = re.compile(r"[\t\r\n]+")
# Unicode's category Cc, exactly: C0, DEL and C1. One search instead of a lookup per character.
CONTROL_CHARACTERS = re.compile("[\x00-\x1f\x7f-\x9f]")


def one_line(raw: str) -> str | None:
    """A name or other one-line value as stored: line breaks and tabs read as a space, the
    ends trimmed; None when another control character is left (NUL above all: PostgreSQL
    refuses it), which belongs in no name, address or ID."""
    text = LINE_BREAKS.sub(" ", raw).strip()
    return None if CONTROL_CHARACTERS.search(text) else text


# What no name holds: controls, format characters (a right-to-left override, zero-width
# characters), surrogates, private use, unassigned code points, line and paragraph separators.
# Spaces of every width stay: 「鈴木　一郎」 is typed with the ideographic space.
_NOT_IN_A_NAME = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})


# Printable by Unicode's categories, and shown as nothing, or as a box in place of what was
# meant: Hangul fillers (U+115F, U+1160, U+3164, U+FFA0), the blank Braille pattern (U+2800),
# the object replacement character (U+FFFC), and U+FFFD, what a form's bytes that were not
# UTF-8 decode to (helper-102 stored 「ab���cd」; helper-103 named someone 「ㅤ」).
SHOWS_NOTHING = frozenset("\u115f\u1160\u3164\uffa0\u2800\ufffc\ufffd")


def shows_as_written(text: str) -> bool:
    """Whether `text` shows on a page as its characters read: nothing a name may not hold
    (above). For text that is not a person's name: a quote's symbol and name on every page's
    ticker (a right-to-left override, a Hangul filler: helpers 113, 119)."""
    return not any(unicodedata.category(ch) in _NOT_IN_A_NAME or ch in SHOWS_NOTHING for ch in text)


def clean_name(raw: str, *, kept: str = "") -> str | None:
    """A person's name as stored (registration, create_staff): on one line, the ends trimmed;
    None when it holds a character no name does, other than a private-use one in `kept` (the
    name before an edit in admin: a CP932 外字 the JA import brought in stays)."""
    text = one_line(raw)
    if text is None:
        return None
    for ch in text:
        category = unicodedata.category(ch)
        if category in _NOT_IN_A_NAME and not (category == "Co" and ch in kept):
            return None
        if ch in SHOWS_NOTHING and ch not in kept:
            return None
    return text


def normalise_email(raw: str) -> str:
    """Emails compare case-insensitively after NFKC (full-width ＠ and letters)."""
    return unicodedata.normalize("NFKC", raw).strip().lower()


@deconstructible
class MailableEmailValidator(EmailValidator):
    """Django's EmailValidator, and an address mail can go to as it is shown.

    Django's passes any character from U+00A1 up in the domain: U+202E (right-to-left
    override) turns "exa\u202emple.com" around wherever the address is shown (the notice to
    the old address quoted it so), and IDNA cannot spell such a domain, so the mail to it
    failed in the worker after the member was told it was sent. No control, format or
    separator character anywhere, a domain IDNA spells, and a domain name, not an IP.
    """

    def __call__(self, value):
        super().__call__(value)
        domain = value.rpartition("@")[2]
        # Nor an address at a bare IP ("taro@[127.0.0.1]"), which Django's passes: no member
        # has one, and it points our mail at any machine.
        if domain.startswith("[") or any(unicodedata.category(c)[0] in "CZ" for c in value):
            raise ValidationError(self.message, code=self.code, params={"value": value})
        try:
            punycode(domain)
        except UnicodeError:
            raise ValidationError(self.message, code=self.code, params={"value": value}) from None


validate_mailable_email = MailableEmailValidator()


# Providers that ignore dots in the local part (j.ohn@ and john@ are one mailbox).
_DOTLESS_DOMAINS = {"gmail.com": "gmail.com", "googlemail.com": "gmail.com"}


def domains_of(key_domain: str) -> list[str]:
    """The domains, as an address may spell them, whose addresses mailbox_key gives this
    domain: googlemail.com for gmail.com, 例え.jp for xn--r8jz45g.jp."""
    names = [name for name, to in _DOTLESS_DOMAINS.items() if to == key_domain] or [key_domain]
    try:
        spelled = key_domain.encode("ascii").decode("idna")
    except UnicodeError:
        spelled = key_domain
    return names if spelled == key_domain else [*names, spelled]


def _ascii_domain(domain: str) -> str:
    """例え.jp as xn--r8jz45g.jp: one mailbox, two spellings. As typed if IDNA cannot spell it."""
    try:
        return domain.encode("idna").decode("ascii")
    except UnicodeError:
        return domain


def mailbox_key(email: str, *, certain: bool = False) -> str:
    """One key per real mailbox, for limits on what we send to an address.

    `"victim"@x`, `vi\\ctim@x`, `Victim+2@X` and `victim@x` reach one inbox: quotes and
    backslash escapes go, letters fold, a "+tag" goes, Gmail's dots go, and an
    internationalised domain is read in its ASCII spelling (例え.jp is xn--r8jz45g.jp).

    `certain`: only what surely reaches one inbox, for telling one address what another
    holds (registration mails the member IDs at it): a "+tag" goes at Gmail only, since
    elsewhere `taro+x@` may be another person's address (helper-118).
    """
    local, _at, domain = normalise_email(email).rpartition("@")
    local = local.replace('"', "").replace("\\", "")
    domain = _ascii_domain(domain)
    domain = _DOTLESS_DOMAINS.get(domain, domain)
    if domain == "gmail.com" or not certain:
        local = local.split("+", 1)[0]
    if domain == "gmail.com":
        local = local.replace(".", "")
    return f"{local}@{domain}"


def normalise_pin(raw: str) -> str:
    """Full-width digits typed on a Japanese keyboard count as the digits they show, and
    spaces typed between them (「739 158」) count for nothing, as in codes and member IDs."""
    return "".join(unicodedata.normalize("NFKC", raw).split())


# --- PIN ------------------------------------------------------------------------------------


def validate_new_pin(pin: str) -> None:
    """A new PIN: 6 ASCII digits, not the published default, not guessable at a glance."""
    if len(pin) != PIN_LENGTH or not pin.isascii() or not pin.isdigit():
        raise ValidationError(_("Your PIN must be 6 digits."), code="pin_format")
    if hmac.compare_digest(pin, settings.JENCO_DEFAULT_PIN):
        raise ValidationError(_("You cannot use the default PIN."), code="pin_default")
    if len(set(pin)) == 1:
        raise ValidationError(_("Your PIN cannot be one digit repeated."), code="pin_repeated")
    steps = {int(b) - int(a) for a, b in zip(pin, pin[1:], strict=False)}
    if steps in ({1}, {-1}):
        raise ValidationError(
            _("Your PIN cannot be a run of consecutive digits such as 123456."),
            code="pin_sequence",
        )


def pin_matches(member, raw: str) -> bool:
    """One hash verification whether or not the member is still on the default PIN."""
    raw = normalise_pin(raw)
    if member.on_default_pin:
        return check_password(raw, _default_hash(settings.JENCO_DEFAULT_PIN))
    if not member.pin:
        burn_one_verification(raw)
        return False
    return check_password(raw, member.pin, setter=rehasher(member, "pin"))


# --- Password -------------------------------------------------------------------------------


def is_default_password(raw: str) -> bool:
    # Bytes: compare_digest refuses non-ASCII text, and members type Japanese too.
    typed = raw.encode("utf-8", "surrogatepass")
    return any(hmac.compare_digest(typed, d.encode()) for d in settings.JENCO_DEFAULT_PASSWORDS)


def default_credentials_open(today=None) -> bool:
    """Whether the published defaults still sign a flagged member in."""
    until = settings.JENCO_DEFAULT_CREDENTIALS_UNTIL
    return until is None or (today or timezone.localdate()) <= until


def published_default_password() -> str | None:
    """The default password the member guide publishes, while it still signs a member in
    (the sign-in page shows it as its hint, as the seed's screen does); None after."""
    passwords = settings.JENCO_DEFAULT_PASSWORDS
    return passwords[0] if passwords and default_credentials_open() else None


def password_matches(member, raw: str) -> bool:
    """Check a sign-in password with exactly one hash verification, whoever the member is.

    A member still flagged as on the default password has no hash of their own (hashing one
    per imported member would take hours); the typed password is verified against the
    process's hash of the published default, so a default sign-in costs what any other does.
    """
    if member.on_default_password:
        defaults = settings.JENCO_DEFAULT_PASSWORDS
        target = raw if raw in defaults else defaults[0]
        matched = check_password(raw, _default_hash(target))
        return matched and default_credentials_open()
    if not member.has_usable_password():
        burn_one_verification(raw)
        return False
    return check_password(raw, member.password, setter=_once_signed_in(member, "password"))


def sub_password_matches(member, raw: str) -> bool:
    """Check a view-only sign-in's sub password with exactly one hash verification, whether
    or not the member has one: an attempt says nothing about whether a sub password is set."""
    if not member.sub_password or member.sub_password.startswith(UNUSABLE_PASSWORD_PREFIX):
        burn_one_verification(raw)
        return False
    return check_password(raw, member.sub_password, setter=_once_signed_in(member, "sub_password"))


def view_only_possible(member) -> bool:
    """A view-only sign-in opens only an account that has finished the migration: while the
    published defaults (or a step after them) are due, the gate would hold the member to
    steps a read-only session may not take. The sub-password page is behind that gate too,
    so such a member cannot have set one; this holds even if one were there."""
    return first_sign_in_step(member) is None


def rehasher(member, field: str):
    """What Django's check_password calls when a right password, PIN or sub password was
    hashed with other parameters than today's (PASSWORD_HASHERS, MemberArgon2Hasher's costs):
    it is hashed again as they are now. Saved only over the hash just checked, so a change
    saved meanwhile by another request stands; when another request got there first (two
    sign-ins at once), this one takes what it saved, if that is the secret just typed, so
    what a session keeps of the hash (Django's session hash, the view-only fingerprint)
    matches the stored one."""
    checked = getattr(member, field)

    def setter(raw: str) -> None:
        again = make_password(raw)
        rows = member._meta.model._default_manager.filter(pk=member.pk)
        if rows.filter(**{field: checked}).update(**{field: again}):
            setattr(member, field, again)
            return
        now = rows.values_list(field, flat=True).first()
        if now and check_password(raw, now):
            setattr(member, field, now)

    return setter


def _once_signed_in(member, field: str):
    """A sign-in's hash made again at today's parameters waits for the sign-in to go through
    (save_new_hash, in its transaction, after the captcha is used up): a sign-in refused
    after a right password (an account deactivated, a view-only one the account cannot
    take, a picture another post used meanwhile) saves none, or the extra hash and write
    would tell a right guess by their time (helpers 126 and 128). A comparison that is no
    sign-in (a new password that must not be the sub password) saves none either."""

    def setter(raw: str) -> None:
        save = rehasher(member, field)
        member.jenco_new_hash = lambda: save(raw)  # a partial's repr would show the secret

    return setter


def save_new_hash(member) -> None:
    """Save the hash at today's parameters that this sign-in's check made due, if it did.
    Made here, inside the sign-in's transaction: on SQLite that holds the database's write
    lock for one more hash, once per member after the costs change (README)."""
    new_hash = getattr(member, "jenco_new_hash", None)
    if new_hash is not None:
        del member.jenco_new_hash
        new_hash()


def burn_one_verification(raw: str) -> None:
    """Spend what a verification costs when there is nothing to verify against."""
    make_password(raw)


def validate_new_password(password: str, member) -> None:
    """Django's validators (length, common, numeric, similarity) plus our own rules, the
    published default included (NotThePublishedDefault, in AUTH_PASSWORD_VALIDATORS)."""
    password_validation.validate_password(password, member)


class NotThePublishedDefault:
    """A password validator: no account, staff and superusers included (createsuperuser,
    create_staff), may take the default password printed on the sign-in page."""

    def validate(self, password, user=None):
        if is_default_password(password):
            raise ValidationError(
                _("You cannot use the published default password."), code="password_default"
            )

    def get_help_text(self):
        return _("It cannot be the published default password.")


class NotLikeTheAccount(UserAttributeSimilarityValidator):
    """Django's similarity check (member ID, name, email) with a sentence of our own: Django's
    Japanese puts the field name between spaces (「このパスワードは 会員ID と似すぎています。」)."""

    def get_error_message(self):
        return _("Your password is too similar to your %(verbose_name)s. Please choose another.")

    def get_help_text(self):
        return _("It cannot be similar to your member ID, name or email address.")


@cache
def _default_hash(secret: str) -> str:
    # One hash per published default per process: the defaults are public, and verifying
    # against a real hash keeps every sign-in at one verification.
    return make_password(secret)


def unusable_secret() -> str:
    """What a never-set password field holds: Django's unusable-password marker.

    Unique per member (it feeds the session hash and reset tokens) and cheap: the importer
    calls this once per row, and Django's make_password(None) draws 40 characters one by one.
    """
    return UNUSABLE_PASSWORD_PREFIX + secrets.token_urlsafe(30)


# --- Migration state ------------------------------------------------------------------------


class Step(enum.StrEnum):
    """Where a migrated member is (seed p.4; the mailbox step since issue 12): each step is
    done before the next opens. `migration_step` decides it for one member, and
    `Member.objects.at_migration_step` for a query; tests hold the two to each other."""

    MAILBOX = "mailbox"
    PIN = "pin"
    PASSWORD = "password"
    DONE = "done"

    @property
    def label(self) -> str:
        """Where the member is, as support's list says it."""
        return _STEP_LABELS[self]

    @property
    def action(self) -> str:
        """The step as the member's own list of steps names it."""
        return _STEP_ACTIONS[self]


_STEP_LABELS = {
    Step.MAILBOX: gettext_lazy("Mailbox code not entered yet"),
    Step.PIN: gettext_lazy("Default PIN not changed yet"),
    Step.PASSWORD: gettext_lazy("Default password not changed yet"),
    Step.DONE: gettext_lazy("Migration complete"),
}
_STEP_ACTIONS = {
    Step.MAILBOX: gettext_lazy("Confirm email"),
    Step.PIN: gettext_lazy("Change PIN"),
    Step.PASSWORD: gettext_lazy("Change password"),
    Step.DONE: gettext_lazy("Migration complete"),
}


def migration_step(member, *, mailbox_proved: bool | None = None) -> Step:
    """What a migrated member must do next: prove the mailbox, change the PIN, then the
    password; DONE once the PIN and password are their own.

    The published password proves nothing, so whoever signed in on it enters a code mailed to
    the registered address first. The gate passes `mailbox_proved` for its own session: every
    session signed in on the default password proves the mailbox anew, also once the owner has
    changed the PIN. A proof left behind by an unfinished first sign-in opens nothing to the
    next person who types the defaults, and that person cannot reach the password step and
    spend the member's PIN tries there. Left out, the member's recorded progress is used (what
    support sees): a member who has changed the PIN (or reset it from an emailed link) is at
    the password step.
    """
    if mailbox_proved is None:
        mailbox_proved = member.mailbox_proved_at is not None or not member.on_default_pin
    if member.on_default_password and not mailbox_proved:
        return Step.MAILBOX
    if member.on_default_pin:
        return Step.PIN
    if member.on_default_password:
        return Step.PASSWORD
    return Step.DONE


def first_sign_in_step(member, *, mailbox_proved: bool | None = None) -> Step | None:
    """The step the first-sign-in gate holds the member to; None once done."""
    step = migration_step(member, mailbox_proved=mailbox_proved)
    return None if step is Step.DONE else step


@dataclass(frozen=True)
class StepProgress:
    step: Step
    done: bool
    current: bool


def migration_progress(member) -> list[StepProgress]:
    """The steps a migrating member is shown, each done, current or still to come. The
    mailbox step shows once proved: before that the member is on the mailbox page."""
    step = first_sign_in_step(member)
    shown = [Step.PIN, Step.PASSWORD]
    if member.mailbox_proved_at:
        shown.insert(0, Step.MAILBOX)
    return [
        StepProgress(
            each,
            current=each == step,
            done=each != step and (each is not Step.PASSWORD or not member.on_default_password),
        )
        for each in shown
    ]


def mask_email(email: str) -> str:
    """The registered address as a member may be shown it: h•••@example.com."""
    local, at, domain = email.partition("@")
    if not at:
        return mask(email)
    return f"{local[:1]}•••@{domain}"


def mask(value: str, visible: int = 4) -> str:
    """Personal data in listings: only the last few characters show."""
    if not value:
        return ""
    shown = value[-visible:] if len(value) > visible else ""
    return "•" * max(len(value) - len(shown), 4) + shown
