from django.contrib.auth.hashers import check_password
from django.contrib.auth.models import AbstractBaseUser, BaseUserManager, PermissionsMixin
from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db import models
from django.utils import timezone
from django.utils.crypto import salted_hmac
from django.utils.translation import gettext_lazy as _

from accounts import credentials


class MemberQuerySet(models.QuerySet):
    @staticmethod
    def migration_step_condition(step: credentials.Step) -> models.Q:
        """credentials.migration_step as a query: each JA member matches exactly one step."""
        Step = credentials.Step
        all_defaults = models.Q(on_default_pin=True, on_default_password=True)
        unproved = models.Q(mailbox_proved_at__isnull=True)
        return {
            Step.MAILBOX: all_defaults & unproved,
            Step.PIN: models.Q(on_default_pin=True) & ~(all_defaults & unproved),
            Step.PASSWORD: models.Q(on_default_pin=False, on_default_password=True),
            Step.DONE: models.Q(on_default_pin=False, on_default_password=False),
        }[step] & models.Q(origin=Member.Origin.JA)

    def at_migration_step(self, step: credentials.Step):
        """The members from JA at `step` of the migration, by their recorded progress."""
        return self.filter(self.migration_step_condition(step))

    def hold(self, pk, *, whole: bool = False) -> "Member":
        """Lock the member's row until the transaction ends, and return the member: the key
        alone, or `whole`, read afresh under the lock (Member.DoesNotExist if gone).

        The first lock whatever signs in with a member's credentials or changes them takes,
        before any row of theirs (passkey, authenticator, recovery code): two that locked in
        other orders could each wait for the other, and PostgreSQL ends one of them with an
        error, a 500 (helper-140: a passkey's second step against support's two-step reset).
        """
        rows = self.select_for_update()
        return (rows if whole else rows.only("pk")).get(pk=pk)


class MemberManager(BaseUserManager.from_queryset(MemberQuerySet)):
    use_in_migrations = True

    def get_by_natural_key(self, member_id):
        # Every sign-in form (ours and admin's) comes through here: look up the canonical ID.
        return self.get(member_id=credentials.normalise_member_id(member_id))

    def create_user(self, member_id, email=None, password=None, **extra_fields):
        member_id = credentials.normalise_member_id(member_id or "")
        if not credentials.is_member_id(member_id):
            raise ValidationError(credentials.MEMBER_ID_FORMAT_ERROR)
        member = self.model(
            member_id=member_id,
            email=credentials.normalise_email(email or ""),
            **extra_fields,
        )
        member.set_password(password)
        member.save(using=self._db)
        return member

    def create_superuser(self, member_id, email=None, password=None, **extra_fields):
        extra_fields.setdefault("is_staff", True)
        extra_fields.setdefault("is_superuser", True)
        return self.create_user(member_id, email, password, **extra_fields)


class Member(AbstractBaseUser, PermissionsMixin):
    class Origin(models.TextChoices):
        JA = "ja", _("JA import")
        REGISTRATION = "registration", _("Registration")
        STAFF = "staff", _("Created by staff")

    class Language(models.TextChoices):
        JA = "ja", "日本語"
        EN = "en", "English"

    # AbstractBaseUser's, named for what it holds: a view-only sign-in (the sub password) is
    # not the member's sign-in (accounts.flows.sign_in.last_sign_in_now).
    last_login = models.DateTimeField(
        _("last sign-in"),
        blank=True,
        null=True,
        # Not always the member's own (helper-152): the published default password is anyone's.
        help_text=_(
            "With the password; on the published default password it may be anyone's. "
            "View-only sign-ins are in the security log."
        ),
    )
    member_id = models.CharField(
        _("member ID"),
        max_length=10,
        unique=True,
        validators=[
            RegexValidator(
                credentials.MEMBER_ID_RE.pattern + "$", credentials.MEMBER_ID_FORMAT_ERROR
            )
        ],
        help_text=_("JPN followed by 7 digits, for example JPN1234567."),
    )
    # Not unique: families share an address.
    email = models.EmailField(
        _("email address"),
        blank=True,
        db_index=True,
        validators=[credentials.validate_mailable_email],
    )
    name = models.CharField(_("name"), max_length=150, blank=True)
    id_document_number = models.CharField(_("ID document number"), max_length=64, blank=True)
    preferred_language = models.CharField(
        _("preferred language"), max_length=2, choices=Language, default=Language.JA
    )
    # Hashed with Django's hashers, like the password; never shown, never logged.
    pin = models.CharField(_("PIN"), max_length=128, blank=True)
    sub_password = models.CharField(_("sub password"), max_length=128, blank=True)

    on_default_password = models.BooleanField(
        _("on the default password"),
        default=False,
        help_text=_("Still signs in with the published JA default password."),
    )
    on_default_pin = models.BooleanField(
        _("on the default PIN"),
        default=False,
        help_text=_("Still uses the published JA default PIN."),
    )
    # Wrong PINs in a row; at the limit PIN-confirmed actions lock until pin_locked_until.
    pin_failures = models.PositiveSmallIntegerField(_("wrong PINs in a row"), default=0)
    pin_locked_until = models.DateTimeField(_("PIN locked until"), null=True, blank=True)
    # When the member last read a mailbox code at a default-credential sign-in (accounts.flows.mailbox):
    # progress for support's migration summary. The gate asks each such session anew.
    mailbox_proved_at = models.DateTimeField(_("mailbox confirmed"), null=True, blank=True)
    origin = models.CharField(_("origin"), max_length=12, choices=Origin, default=Origin.STAFF)
    imported_at = models.DateTimeField(_("imported"), null=True, blank=True)

    is_active = models.BooleanField(_("active"), default=True)
    is_staff = models.BooleanField(_("staff"), default=False)
    date_joined = models.DateTimeField(_("joined"), default=timezone.now)

    objects = MemberManager()

    USERNAME_FIELD = "member_id"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS = ["email"]

    class Meta:
        verbose_name = _("member")
        verbose_name_plural = _("members")
        indexes = [models.Index(fields=["on_default_pin", "on_default_password"])]
        permissions = [
            ("send_reset_link", _("Can email a member a password or PIN reset link")),
            ("reset_two_step", _("Can turn a member's two-step verification off")),
            ("deactivate_member", _("Can deactivate or reactivate a member")),
            ("correct_email", _("Can correct a member's registered email address")),
        ]

    def __str__(self):
        return self.member_id

    def get_full_name(self):
        return self.name or self.member_id

    def get_short_name(self):
        return self.name or self.member_id

    @property
    def masked_id_document_number(self) -> str:
        return credentials.mask(self.id_document_number)

    @property
    def has_pin(self) -> bool:
        """Whether changes can be confirmed with a PIN: every member has one (the JA default
        until changed); a staff account made with create_staff has none and confirms with
        its password."""
        return bool(self.pin) or self.on_default_pin

    @property
    def migration_step(self) -> credentials.Step | None:
        """The first-sign-in step due by recorded progress; None once done."""
        return credentials.first_sign_in_step(self)

    @property
    def migration_progress(self) -> list[credentials.StepProgress]:
        return credentials.migration_progress(self)

    def check_password(self, raw_password):
        """Django's, with its hash made again at today's parameters saved as the PIN's and
        the sub password's are (credentials.rehasher): only over the hash just checked.
        Django's own saved it whatever was there, so a sign-in with the old password that
        was being checked as the member saved a new one could write the old one back."""
        return check_password(raw_password, self.password, credentials.rehasher(self, "password"))

    def _get_session_auth_hash(self, secret=None):
        # Django signs sessions with the password hash, so a new password ends every other
        # session. The PIN is part of it too: a PIN reset by email (or a PIN change) signs
        # the member's other sessions out as well (issue 12, finding 9).
        return salted_hmac(
            "accounts.models.Member.session_auth_hash",
            f"{self.password}\x00{self.pin}",
            secret=secret,
            algorithm="sha256",
        ).hexdigest()


class SecurityEvent(models.Model):
    """Who did what to which account, from where: never the secret itself."""

    class Kind(models.TextChoices):
        SIGN_IN = "sign_in", _("Signed in")
        SIGN_IN_DEFAULT = "sign_in_default", _("Signed in with default credentials")
        SIGN_IN_VIEW_ONLY = "sign_in_view_only", _("Signed in view only (sub password)")
        SIGN_IN_FAILED = "sign_in_failed", _("Sign-in failed")
        # A wrong or missing captcha: it never reached the password, so it says nothing of
        # the member ID typed (accounts.flows.sign_in.sign_in_failed).
        SIGN_IN_CAPTCHA_FAILED = (
            "sign_in_captcha_failed",
            _("Sign-in failed: wrong or missing captcha"),
        )
        SIGN_OUT = "sign_out", _("Signed out")
        LOCKED_OUT = "locked_out", _("Locked out")
        PIN_CHANGED = "pin_changed", _("PIN changed")
        PIN_FAILED = "pin_failed", _("Wrong PIN")
        PIN_LOCKED = "pin_locked", _("PIN locked")
        # An account without a PIN (staff) confirms changes with its password instead.
        CONFIRM_PASSWORD_FAILED = "confirm_password_failed", _("Wrong password to confirm")
        CONFIRM_PASSWORD_LOCKED = "confirm_password_locked", _("Password confirmation locked")
        PASSWORD_CHANGED = "password_changed", _("Password changed")
        SUB_PASSWORD_CHANGED = "sub_password_changed", _("Sub password changed")
        SUB_PASSWORD_REMOVED = "sub_password_removed", _("Sub password removed")
        EMAIL_CHANGE_REQUESTED = "email_change_requested", _("Email change requested")
        EMAIL_CHANGED = "email_changed", _("Email changed")
        LANGUAGE_CHANGED = "language_changed", _("Language changed")
        PASSWORD_RESET_REQUESTED = "password_reset_requested", _("Password reset requested")
        PASSWORD_RESET = "password_reset", _("Password reset by email")
        PIN_RESET_REQUESTED = "pin_reset_requested", _("PIN reset requested")
        PIN_RESET = "pin_reset", _("PIN reset by email")
        MEMBER_VIEWED = "member_viewed", _("Member record viewed by staff")
        MAILBOX_CODE_SENT = "mailbox_code_sent", _("Mailbox code sent")
        MAILBOX_CODE_FAILED = "mailbox_code_failed", _("Wrong mailbox code")
        MAILBOX_PROVED = "mailbox_proved", _("Mailbox confirmed with a code")
        ADMIN_LOOKUP_REFUSED = "admin_lookup_refused", _("Admin filter or sort order refused")
        REGISTERED = "registered", _("Registered (email verified)")
        # Account > Security (issue 16). Declared together, ahead of the pages that write
        # them, so parallel work does not fight over this list and its migration.
        SIGN_IN_TWO_STEP = "sign_in_two_step", _("Signed in with an authenticator code")
        SIGN_IN_RECOVERY_CODE = "sign_in_recovery_code", _("Signed in with a recovery code")
        SIGN_IN_PASSKEY = "sign_in_passkey", _("Signed in with a passkey")
        TWO_STEP_FAILED = "two_step_failed", _("Wrong two-step code")
        TWO_STEP_PAUSED = "two_step_paused", _("Two-step codes paused")
        TWO_STEP_ENABLED = "two_step_enabled", _("Two-step verification turned on")
        TWO_STEP_DISABLED = "two_step_disabled", _("Two-step verification turned off")
        RECOVERY_CODES_REGENERATED = "recovery_codes_new", _("New recovery codes made")
        PASSKEY_ADDED = "passkey_added", _("Passkey added")
        PASSKEY_REMOVED = "passkey_removed", _("Passkey removed")
        PASSKEY_FAILED = "passkey_failed", _("Passkey sign-in failed")
        SESSION_ENDED = "session_ended", _("Signed out on another device")
        OTHER_SESSIONS_ENDED = "other_sessions_ended", _("Signed out everywhere else")
        # The support desk (issue 17): what staff did, with the agent in `actor`.
        LOCKOUT_CLEARED = "lockout_cleared", _("Lockout cleared by staff")
        # A reset link staff send is logged as the member's own request would be
        # (PASSWORD_RESET_REQUESTED, PIN_RESET_REQUESTED) with the agent in `actor`: those
        # kinds void the older links (tokens.NewestLinkOnly) and count toward the hour's
        # limit, whoever sent them. A kind of its own, declared ahead and never written,
        # was a filter in the log that found nothing (helper-160).
        EMAIL_CORRECTION_STARTED = "email_correction", _("Email correction started by staff")
        EMAIL_CORRECTED = "email_corrected", _("Email corrected (confirmed by the member)")
        TWO_STEP_RESET = "two_step_reset", _("Two-step verification reset by staff")
        MEMBER_DEACTIVATED = "member_deactivated", _("Account deactivated by staff")
        MEMBER_REACTIVATED = "member_reactivated", _("Account reactivated by staff")
        MEMBER_EDITED = "member_edited", _("Member details edited by staff")
        STAFF_GROUP_CHANGED = "staff_group_changed", _("Staff group changed by a superuser")

    # Every way of signing in: each started a session (accounts.flows.sessions lists them).
    SIGN_INS = (
        Kind.SIGN_IN,
        Kind.SIGN_IN_DEFAULT,
        Kind.SIGN_IN_VIEW_ONLY,
        Kind.SIGN_IN_TWO_STEP,
        Kind.SIGN_IN_RECOVERY_CODE,
        Kind.SIGN_IN_PASSKEY,
    )
    # Sign-ins that failed: the password's (logged by the ID typed), and the second step's or
    # a passkey's (logged against the member). Activity marks them failed; the dashboard
    # counts them since the previous sign-in (accounts.sign_in_sql.count_sign_ins).
    FAILED_SIGN_INS = (Kind.SIGN_IN_FAILED, Kind.TWO_STEP_FAILED, Kind.PASSKEY_FAILED)

    created = models.DateTimeField(_("when"), default=timezone.now, db_index=True)
    kind = models.CharField(_("what"), max_length=32, choices=Kind)
    member = models.ForeignKey(
        Member,
        verbose_name=_("member"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="security_events",
    )
    # What was typed as the member ID when no member matched (normalised, length-capped).
    member_id_typed = models.CharField(_("member ID typed"), max_length=32, blank=True)
    actor = models.ForeignKey(
        Member,
        verbose_name=_("staff member"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    ip_address = models.GenericIPAddressField(_("IP address"), null=True, blank=True)
    user_agent = models.CharField(_("user agent"), max_length=300, blank=True)
    # What an event needs beyond the columns above, never a secret: a staff action's `reason`,
    # masked `old` and `new` addresses, the staff member's `team`, the pauses support `lifted`;
    # a sign-in's `session` (its session key, encrypted, so Account > Security can end it)
    # and `method`.
    details = models.JSONField(_("details"), default=dict, blank=True)

    class Meta:
        verbose_name = _("security event")
        verbose_name_plural = _("security events")
        ordering = ["-created"]
        indexes = [
            models.Index(fields=["member", "-created"]),
            # Failed sign-ins by the ID typed: counted at every sign-in (the dashboard's "since
            # your last sign-in"), listed in Account > Security and searched in admin. Without
            # it each sign-in read every entry since the member's last sign-in.
            models.Index(
                fields=["member_id_typed", "kind", "-created"], name="security_event_typed_id"
            ),
        ]

    def __str__(self):
        return f"{self.get_kind_display()} {self.member or self.member_id_typed}"


class MailboxCode(models.Model):
    """A 6-digit code mailed to the registered address after a sign-in on the published
    default credentials: knowing the defaults is not enough, the member must also read their
    mailbox before the PIN step (issue 12). Only a keyed hash of the code is stored, and the
    worker that mails it writes that hash, so no queue row holds a code that works."""

    member = models.ForeignKey(
        Member, verbose_name=_("member"), on_delete=models.CASCADE, related_name="mailbox_codes"
    )
    created = models.DateTimeField(_("requested"), default=timezone.now, db_index=True)
    # Which signed-in session asked (a keyed hash of a random value kept in that session): a
    # code, and its tries, belong to the session it was sent for, so someone else signed in on
    # the defaults cannot spend the member's tries.
    session_hash = models.CharField(max_length=64, blank=True, db_index=True)
    code_hash = models.CharField(max_length=64, blank=True)
    wrong_tries = models.PositiveSmallIntegerField(_("wrong tries"), default=0)
    used_at = models.DateTimeField(_("used"), null=True, blank=True)

    class Meta:
        verbose_name = _("mailbox code")
        verbose_name_plural = _("mailbox codes")
        indexes = [models.Index(fields=["member", "-created"])]

    def __str__(self):
        return f"{self.member} {self.created:%Y-%m-%d %H:%M}"


class EmailChangeRequest(models.Model):
    """A member asked to move their account to `new_email`; the link mailed there confirms it.

    The rows are what the limits count (every app server sees them) and what makes a link
    single-use: only a member's newest request, unused and unexpired, can be confirmed.
    """

    member = models.ForeignKey(
        Member, on_delete=models.CASCADE, related_name="email_change_requests"
    )
    new_email = models.EmailField(db_index=True)
    # credentials.mailbox_key(new_email): what the per-address limit counts, so quoted,
    # escaped, "+tag" and dotted spellings of one inbox share its limit.
    mailbox = models.CharField(max_length=254, db_index=True)
    # SHA-256 of the link's one-time nonce, set by the worker that mails the link: the
    # database never holds a working link. Empty (null) until the link is made.
    nonce_hash = models.CharField(max_length=64, null=True, blank=True, unique=True)
    created = models.DateTimeField(default=timezone.now)
    used_at = models.DateTimeField(null=True, blank=True)
    # A correction started by a supervisor for a member who cannot sign in (issue 17): who,
    # and the reason and identity check they recorded. Its link works signed out.
    requested_by = models.ForeignKey(
        Member, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    reason = models.TextField(blank=True)

    class Meta:
        indexes = [models.Index(fields=["member", "-created"])]

    def __str__(self):
        return f"{self.member} → {self.new_email}"


class RequestCounter(models.Model):
    """Requests counted by a throttle (accounts.throttle): one row per scope, key and window.

    In the database, not a process's memory, so every app server counts against one limit.
    """

    scope = models.CharField(max_length=40)
    # An HMAC-SHA256 of what is counted (an IP address, an email): never the value itself.
    key_hash = models.CharField(max_length=64)
    window_start = models.DateTimeField()
    window_end = models.DateTimeField(db_index=True)  # throttle.prune() deletes rows past it
    count = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["scope", "key_hash", "window_start"], name="one_counter_per_window"
            )
        ]

    def __str__(self):
        return f"{self.scope} {self.key_hash[:12]} {self.window_start:%Y-%m-%d %H:%M}: {self.count}"


class PendingRegistration(models.Model):
    """A registration waiting for its email to be verified (accounts.flows.registration).

    Only hashes are kept: the password and the PIN hashed with Django's hashers at once, and
    the SHA-256 of the link's one-time token, set by the worker that mails the link (so no
    queue row and no database row holds a link that works). The member is created only when
    the link is followed; until then this row is all there is, and housekeeping deletes it
    once JENCO_REGISTRATION_HOURS have passed.
    """

    name = models.CharField(_("name"), max_length=150)
    email = models.EmailField(_("email address"))
    preferred_language = models.CharField(
        _("preferred language"), max_length=2, choices=Member.Language, default=Member.Language.JA
    )
    password = models.CharField(max_length=128, blank=True)  # a hash; emptied once used
    pin = models.CharField(max_length=128, blank=True)  # a hash; emptied once used
    # SHA-256 of the link's token; empty (null) until the worker makes the link.
    token_hash = models.CharField(max_length=64, null=True, blank=True, unique=True)
    created = models.DateTimeField(_("registered"), default=timezone.now, db_index=True)
    used_at = models.DateTimeField(_("verified"), null=True, blank=True)
    member = models.ForeignKey(
        Member, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Wrong passwords typed on the link's page; at REGISTRATION_PASSWORD_TRIES it is used up.
    wrong_passwords = models.PositiveSmallIntegerField(default=0)

    class Meta:
        verbose_name = _("pending registration")
        verbose_name_plural = _("pending registrations")

    def __str__(self):
        return f"{self.email} {self.created:%Y-%m-%d %H:%M}"


class Authenticator(models.Model):
    """A member's authenticator app (TOTP, RFC 6238): two-step verification (issue 16).

    The shared secret cannot be hashed (the server computes codes from it), so it is stored
    encrypted with a key derived from SECRET_KEY (accounts.flows.two_step); a database copy
    alone does not give it away. `last_step` is the time step of the last code accepted: a
    code, once used, never works again, nor does any earlier one.
    """

    member = models.OneToOneField(
        Member, verbose_name=_("member"), on_delete=models.CASCADE, related_name="authenticator"
    )
    secret_encrypted = models.TextField()
    created = models.DateTimeField(_("turned on"), default=timezone.now)
    last_step = models.BigIntegerField(default=0)
    last_used = models.DateTimeField(_("last used"), null=True, blank=True)

    class Meta:
        verbose_name = _("authenticator app")
        verbose_name_plural = _("authenticator apps")

    def __str__(self):
        return str(self.member)


class RecoveryCode(models.Model):
    """One of the 10 single-use codes shown when two-step verification is turned on; only a
    keyed hash is stored (the codes are random, so a fast keyed hash is enough)."""

    member = models.ForeignKey(
        Member, verbose_name=_("member"), on_delete=models.CASCADE, related_name="recovery_codes"
    )
    code_hash = models.CharField(max_length=64)
    used_at = models.DateTimeField(_("used"), null=True, blank=True)

    class Meta:
        verbose_name = _("recovery code")
        verbose_name_plural = _("recovery codes")
        constraints = [
            models.UniqueConstraint(fields=["member", "code_hash"], name="recovery_code_once")
        ]

    def __str__(self):
        return str(self.member)


class Passkey(models.Model):
    """A member's passkey (WebAuthn): a second step, or a sign-in on its own (issue 16).

    Only the public key is kept: the private key never leaves the member's phone, computer or
    security key. `sign_count` is the authenticator's counter when it keeps one: an assertion
    whose counter does not move forward is refused (a cloned key).
    """

    member = models.ForeignKey(
        Member, verbose_name=_("member"), on_delete=models.CASCADE, related_name="passkeys"
    )
    name = models.CharField(_("name"), max_length=60)
    credential_id = models.CharField(max_length=1400, unique=True)  # base64url, as browsers send
    public_key = models.BinaryField()  # COSE
    sign_count = models.PositiveBigIntegerField(default=0)
    transports = models.JSONField(default=list, blank=True)
    backed_up = models.BooleanField(default=False)  # synced (iCloud Keychain, Google) or not
    created = models.DateTimeField(_("added"), default=timezone.now)
    last_used = models.DateTimeField(_("last used"), null=True, blank=True)

    class Meta:
        verbose_name = _("passkey")
        verbose_name_plural = _("passkeys")
        ordering = ["created"]

    def __str__(self):
        return self.name
