import secrets
import unicodedata

from captcha.fields import CaptchaField, CaptchaTextInput
from captcha.helpers import captcha_audio_url
from captcha.models import CaptchaStore
from django import forms
from django.conf import settings
from django.contrib.auth.hashers import check_password
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.crypto import constant_time_compare, salted_hmac
from django.utils.translation import gettext, gettext_noop, ngettext
from django.utils.translation import gettext_lazy as _

from accounts import credentials, lockout, sign_in_sql, times
from accounts.captcha import claim_answer, claim_on, note_sign_in, typed_answer
from accounts.flows import email_change, two_step
from accounts.flows.pin import PinCheck
from accounts.models import Member

# Generous for anything a person types, small enough that nothing hostile gets far.
MAX_TYPED_ID = 64
MAX_TYPED_PASSWORD = 1024

# Every CharField refuses a NUL with Django's own message, whose Japanese reads
# 「何か文字を入力してください。」, as if the box were empty: our catalogue's words win.
NUL_REFUSED = gettext_noop("Null characters are not allowed.")


class DigitsCaptchaInput(CaptchaTextInput):
    """The image, a refresh button and a numeric answer box (a phone shows its digit pad)."""

    template_name = "accounts/widgets/captcha.html"

    def __init__(self):
        super().__init__()
        self.widgets[1].attrs.update(
            {
                "inputmode": "numeric",
                "maxlength": "4",
                "pattern": "[0-9０-９]*",
                # The box's own name for screen readers; the group's legend names the picture.
                "aria-label": _("The 4 digits in the picture"),
            }
        )

    def fetch_captcha_store(self, name, value, attrs=None, generator=None):
        # The library's own, with the key the sign-in page's captcha has (drawn from
        # `secrets`, sign_in_sql.new_captcha) instead of a SHA-1 of `random` and the clock.
        self._key = sign_in_sql.new_captcha()
        self._value = [self._key, ""]
        self.id_ = self.build_attrs(attrs or {}).get("id")

    def get_context(self, name, value, attrs):
        context = super().get_context(name, value, attrs)
        context["refresh_url"] = self.refresh_url()
        # The hidden key is not something to fill in: attributes about filling in (required,
        # autocomplete, an error's aria-*) are invalid HTML on a hidden input.
        hidden = context["widget"]["subwidgets"][0]["attrs"]
        for attr in ("required", "autocomplete", "aria-invalid", "aria-describedby"):
            hidden.pop(attr, None)
        return context


class DigitsCaptchaField(CaptchaField):
    """django-simple-captcha's check, with the answer normalised first, so the full-width
    digits the answer box accepts count as the digits they are; and without its sweep of
    every expired captcha on every post (a DELETE in each sign-in): `manage.py
    housekeeping` deletes those."""

    def clean(self, value):
        if isinstance(value, list | tuple) and len(value) == 2 and isinstance(value[1], str):
            value = [value[0], typed_answer(value[1])]
        forms.MultiValueField.clean(self, value)  # required, both parts: CaptchaField's own
        response, value[1] = (value[1] or "").strip().lower(), ""
        store = CaptchaStore.objects.filter(hashkey=value[0], expiration__gt=timezone.now())
        store = store.first()
        # A captcha can be tried once: it goes even when the answer is wrong. Of posts sent at
        # once with one answer, only the one whose delete found the row gets past: one picture
        # answered, one request (the sign-in's own field says the same with its claim).
        used_here = store is not None and sign_in_sql.use_up_captcha(store.hashkey)
        if not used_here or store.response != response:
            raise forms.ValidationError(self.error_messages["invalid"], code="invalid")
        return value


def captcha_field(field_class=DigitsCaptchaField) -> CaptchaField:
    return field_class(
        label=_("Captcha"),
        widget=DigitsCaptchaInput(),
        error_messages={
            "invalid": _(
                "The code did not match the picture. Type the 4 digits of the new picture."
            ),
            "required": _("Type the 4 digits in the picture."),
        },
    )


EMAIL_FORMAT_ERROR = _("Enter an email address such as name@example.com.")
STAFF_MAILBOX_TAKEN = _(
    "This address reaches the same inbox as another account's. A staff account needs an "
    "address of its own: its password reset links go there."
)


def valid_email(typed: str) -> str:
    email = credentials.normalise_email(typed)
    try:
        if len(email) > 254:  # NFKC can lengthen what was typed ("ﬃ" is three letters)
            raise forms.ValidationError("too long")
        credentials.validate_mailable_email(email)
    except forms.ValidationError:
        raise forms.ValidationError(EMAIL_FORMAT_ERROR, code="invalid") from None
    return email


class FreshHiddenField(forms.Field):
    """A hidden value the page renders from the form's initial, whatever was posted, and
    the browser sends back. (A disabled field renders so too, but with `disabled`, and a
    browser sends no disabled input: the page's version and token never came back.)"""

    widget = forms.HiddenInput

    def __init__(self, **kwargs):
        kwargs.setdefault("required", False)
        super().__init__(**kwargs)

    def bound_data(self, data, initial):
        return initial


class EmailAddressField(forms.CharField):
    """An email address box; what is wrong with it, its length included, gets one message
    (valid_email's), not Django's "at most 254 characters (it has 10000)"."""

    def __init__(self, **kwargs):
        kwargs.setdefault("max_length", 254)
        kwargs.setdefault(
            "widget", forms.EmailInput(attrs={"autocomplete": "email", "spellcheck": "false"})
        )
        kwargs["error_messages"] = {
            "max_length": EMAIL_FORMAT_ERROR,
            **kwargs.get("error_messages", {}),
        }
        super().__init__(**kwargs)


class MemberIDField(forms.CharField):
    """Takes what a member types (full-width, spaced, lower-case) and keeps JPN1234567."""

    default_error_messages = {"invalid": credentials.MEMBER_ID_FORMAT_ERROR}

    def __init__(self, **kwargs):
        # One name everywhere but on the sign-in box, which keeps the seed's wording.
        kwargs.setdefault("label", _("Member ID"))
        kwargs.setdefault("help_text", _("JPN followed by 7 digits, for example JPN1234567."))
        kwargs.setdefault("max_length", MAX_TYPED_ID)
        kwargs.setdefault("error_messages", {"max_length": credentials.MEMBER_ID_FORMAT_ERROR})
        super().__init__(**kwargs)
        self.widget.attrs.update(
            {
                "placeholder": _("e.g. JPN1234567"),
                "autocomplete": "username",
                "autocapitalize": "characters",
                "spellcheck": "false",
            }
        )

    def bound_data(self, data, initial):
        """What the box shows again after an error: no more than it can hold (maxlength),
        so a 5,000-character post is not sent back whole."""
        data = super().bound_data(data, initial)
        return data[: self.max_length] if isinstance(data, str) else data

    def to_python(self, value):
        value = super().to_python(value)
        return credentials.normalise_member_id(value) if value else value

    def validate(self, value):
        super().validate(value)
        if value and not credentials.is_member_id(value):
            raise forms.ValidationError(self.error_messages["invalid"], code="invalid")


class SecretField(forms.CharField):
    """A password-type box that never sends what was typed back to the page."""

    def __init__(self, *, autocomplete="current-password", **kwargs):
        kwargs.setdefault("max_length", MAX_TYPED_PASSWORD)
        kwargs.setdefault("strip", False)
        # Our words, not Django's "at most 1024 characters (it has 10000)".
        kwargs["error_messages"] = {
            "max_length": _("The password is too long."),
            **kwargs.get("error_messages", {}),
        }
        super().__init__(widget=forms.PasswordInput(attrs={"autocomplete": autocomplete}), **kwargs)


class Form(forms.Form):
    """Our forms: labels without a trailing colon, which reads oddly in Japanese."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)

    # Set when the PIN (or password) that confirms a change was refused by a lock: nothing
    # typed again is taken until it ends, so the form asks for nothing (refuse_confirmation).
    confirm_locked = False

    @property
    def secrets_cleared(self) -> str:
        """Sent with a mistake, the form comes back with its password and PIN boxes empty
        (what was typed there is never sent back to the page): the page says so, or the
        member fixes the captcha, sends it again and reads "required" (helper-97). Naming
        what the form has: a PIN form says nothing of a password (helper-101). "" if none."""
        if not (self.is_bound and self.errors) or self.confirm_locked:
            return ""
        typed = {
            isinstance(field, PinField)
            for name, field in self.fields.items()
            if isinstance(field.widget, forms.PasswordInput)
            and self.data.get(self.add_prefix(name))
        }
        if typed == {True}:
            return gettext(
                "For your safety, PINs you typed are not shown again: please type them again."
            )
        if typed == {False}:
            return gettext(
                "For your safety, passwords you typed are not shown again: please type them again."
            )
        if typed:
            return gettext(
                "For your safety, passwords and PINs you typed are not shown again: please "
                "type them again."
            )
        return ""


class SignInCaptchaField(DigitsCaptchaField):
    """The sign-in's captcha: a wrong answer uses the picture up at once, as everywhere; a
    right one is only read here, and used up by LoginForm.use_captcha in the transaction
    that writes the post's outcome, so a sign-in writes once (issue 13). Of posts sent at
    once with one right answer, only the first to claim it goes on to a password check
    (LoginForm.clean, with accounts.captcha.claim_answer)."""

    def clean(self, value):
        if isinstance(value, list | tuple) and len(value) == 2 and isinstance(value[1], str):
            value = [value[0], typed_answer(value[1])]
        forms.MultiValueField.clean(self, value)
        key, answer = value[0], (value[1] or "").strip().lower()
        if not sign_in_sql.captcha_right(key, answer, timezone.now()):
            sign_in_sql.use_up_captcha(key)
            raise forms.ValidationError(self.error_messages["invalid"], code="invalid")
        return [key, ""]


class LoginForm(Form):
    # The post repeated one that signed the member in a moment ago with the same answered
    # picture (a double tap): it goes on as that one did, to the back office or the code page.
    sent_twice = False
    sent_twice_to_second_step = False
    # The post repeated one with the same answered picture and ID that is still being checked
    # (a double tap the browser's script did not stop): told so, with no failure counted.
    sent_while_checking = False

    username = MemberIDField(label=_("Username / User ID"), help_text="")  # the seed's box
    password = SecretField(label=_("Password"))
    # Ticked, the password box takes the sub password and the back office opens read-only
    # (accounts.view_only). A box rather than trying both passwords: one hash per attempt.
    view_only = forms.BooleanField(
        label=_("View only: sign in with the sub password"),
        required=False,
        # Said to everyone, before a post: a failure never says which password was typed
        # (helper-101 ticked it and typed the main password).
        help_text=_("If ticked, type the sub password in the password box, not the main one."),
    )
    captcha = captcha_field(SignInCaptchaField)

    error_messages = {
        "invalid_login": _(
            "The member ID or password is incorrect. Check both and try "
            "again, or use “Forgot password?”."
        ),
        "defaults_closed": _(
            "The default password can no longer be used to sign in. Please "
            "set a new password with “Forgot password?”."
        ),
        "sent_while_checking": _(
            "The sign-in form was sent twice. If you are not signed in, please sign in again."
        ),
    }

    def __init__(self, request=None, *args, **kwargs):
        self.request = request
        self.member = None
        super().__init__(*args, **kwargs)
        published = credentials.published_default_password()
        if published:  # the seed's hint in the box, while the published default still works
            hint = _("Default) %(password)s") % {"password": published}
            self.fields["password"].widget.attrs["placeholder"] = hint

    def clean(self):
        cleaned = super().clean()
        if self.has_error("captcha"):  # wrong, or used: by this form, which signed in?
            self._sent_twice(claim_on(self._posted_captcha_key()), cleaned.get("username"))
        # The captcha is checked first, so a bot that cannot read it costs us no hash.
        if self.errors:
            return cleaned
        # Of posts with this answered picture, the first to claim it checks its password.
        key, member_id = cleaned["captcha"][0], cleaned["username"]
        if not claim_answer(key, member_id):
            del cleaned["captcha"]  # this post must not use it up: the first one does
            self._claimed_by_another_post(claim_on(key), member_id)
            return cleaned
        # Counted among the posts checking this ID while it checks: sent together, they get
        # no more checks than sent one at a time (accounts.checking).
        member = lockout.authenticate(
            self.request,
            username=cleaned["username"],
            password=cleaned["password"],
            view_only=cleaned.get("view_only", False),
        )
        if member is None:
            # Decided by what was typed, never by the account: says nothing about the ID.
            if (
                credentials.is_default_password(cleaned["password"])
                and not credentials.default_credentials_open()
            ):
                raise forms.ValidationError(
                    self.error_messages["defaults_closed"], code="defaults_closed"
                )
            raise forms.ValidationError(self._invalid_login(cleaned["username"]))
        self.member = member
        return cleaned

    def _invalid_login(self, member_id: str) -> list[forms.ValidationError]:
        """The wrong-password error and, once a pause is near, how many more failures start
        it. Counted against the ID typed, whether or not it exists, and the address: the
        warning reads the same for an ID that is no one's."""
        errors = [forms.ValidationError(self.error_messages["invalid_login"], code="invalid_login")]
        left = lockout.failures_left(self.request, member_id)
        if left is not None and 0 < left <= settings.JENCO_LOCKOUT_WARN_AT:
            minutes = int(settings.AXES_COOLOFF_TIME.total_seconds() // 60)
            warning = ngettext(
                "%(left)s more failed sign-in will pause signing in for %(minutes)s minutes.",
                "%(left)s more failed sign-ins will pause signing in for %(minutes)s minutes.",
                left,
            ) % {"left": left, "minutes": minutes}
            errors.append(forms.ValidationError(warning, code="failures_left"))
        return errors

    @property
    def typed_id(self) -> str:
        """The member ID as typed, which the page shows again in its box ("" unposted), cut
        to what the box holds (MemberIDField.bound_data)."""
        return (self["username"].value() or "") if self.is_bound else ""

    def errors_quote_nothing_posted(self) -> bool:
        """Whether this failed post's errors read the same whatever was posted, so its page
        can be served from a copy (accounts.views._login_from_copy). An error with parameters
        may quote the post (Django's "at most 1024 characters (it has 1030)"), so any counts
        as quoting it."""
        found = self.errors.as_data()
        return bool(found) and all(e.params is None for errors in found.values() for e in errors)

    @staticmethod
    def captcha_urls(key: str) -> dict:
        """The sign-in page's captcha (the page writes it out by hand): key and URLs."""
        return {
            "key": key,
            "image": reverse("captcha-image", kwargs={"key": key}),
            "refresh": reverse("captcha-refresh"),
            "audio": captcha_audio_url(key) if settings.CAPTCHA_FLITE_PATH else None,
        }

    def _posted_captcha_key(self) -> str:
        return (
            self.fields["captcha"].widget.value_from_datadict(
                self.data, self.files, self.add_prefix("captcha")
            )[0]
            or ""
        )

    def _sent_twice(self, claim: str | dict | None, member_id: str | None) -> bool:
        """Whether the post that claimed this picture signed in `member_id`, the ID this post
        typed, a moment ago (`claim`: captcha.claim_on). Then this is the same form sent twice
        (only the session shown the picture knows its key): it checks no password, counts as
        no failure, and goes on as the first did (sent_twice)."""
        if not isinstance(claim, dict) or claim["member"] != member_id:
            return False
        self.sent_twice = True
        self.sent_twice_to_second_step = claim["second_step"]
        return True

    def _claimed_by_another_post(self, claim: str | dict | None, member_id: str) -> None:
        """This post brought the right answer, but another brought it first and checks (or
        checked) its password; this one checks none. The same ID is the same form sent twice:
        gone on as the first did once it signed in, else told so (sent_while_checking, a
        form-wide error). Any other ID gets the picture's error, whatever its password."""
        if self._sent_twice(claim, member_id):
            return
        if claim == member_id:
            self.sent_while_checking = True
            error = self.error_messages["sent_while_checking"]
            self.add_error(None, forms.ValidationError(error, code="sent_while_checking"))
            return
        error = self.fields["captcha"].error_messages["invalid"]
        self.add_error("captcha", forms.ValidationError(error, code="claimed"))

    def use_captcha(self, *, second_step: bool = False) -> None:
        """Use up the captcha this post answered; call inside the transaction that writes
        the post's outcome (`second_step`: it sends the member on to the code page). Of two
        posts sent with one answer that both got past the claim (a cache per process), only
        one gets past this: the other finds it used and gets the captcha's error."""
        if self.has_error("captcha") or "captcha" not in self.cleaned_data:
            return
        key = self.cleaned_data["captcha"][0]
        if not sign_in_sql.use_up_captcha(key):
            # Used meanwhile by another post of this answer that the claim did not stop (a
            # cache each process keeps for itself, as without REDIS_URL): the picture's error,
            # whatever its password, so the answer tells nothing. With a shared cache such a
            # post never checked a password (_claimed_by_another_post).
            self.member = None
            self.errors.pop(forms.forms.NON_FIELD_ERRORS, None)
            self.add_error("captcha", self.fields["captcha"].error_messages["invalid"])
            return
        if self.member is not None:
            member_id = self.member.member_id
            transaction.on_commit(lambda: note_sign_in(key, member_id, second_step=second_step))


class PinField(forms.CharField):
    """Six digits; full-width digits from a Japanese keyboard count."""

    def __init__(self, *, autocomplete="off", **kwargs):
        kwargs.setdefault("max_length", MAX_TYPED_ID)
        kwargs["error_messages"] = {
            "max_length": _("Your PIN must be 6 digits."),
            **kwargs.get("error_messages", {}),
        }
        super().__init__(
            widget=forms.PasswordInput(
                attrs={
                    "autocomplete": autocomplete,
                    "inputmode": "numeric",
                }
            ),
            **kwargs,
        )

    def to_python(self, value):
        value = super().to_python(value)
        return credentials.normalise_pin(value) if value else value


class MemberForm(Form):
    """A form about one member's credentials."""

    def __init__(self, member, *args, **kwargs):
        self.member = member
        super().__init__(*args, **kwargs)

    def locked_notice(self) -> str:
        """While wrong tries have locked the changes confirmed with the PIN (or, on an account
        without one, the password), what the refusal would say: shown before the member fills
        a form in for nothing (backoffice/_locked_notice.html)."""
        until = self.member.pin_locked_until
        if until is None or until <= timezone.now():
            return ""
        return confirm_problem(self.member, PinCheck(right=False, locked_until=until))


def _matching(form, first: str, second: str, message) -> None:
    a, b = form.cleaned_data.get(first), form.cleaned_data.get(second)
    if a and b and a != b:
        form.add_error(second, forms.ValidationError(message, code="mismatch"))


class NewPinFields(MemberForm):
    new_pin1 = PinField(label=_("New PIN"), help_text=_("6 digits of your choice."))
    new_pin2 = PinField(label=_("New PIN (again)"))

    def clean_new_pin1(self):
        pin = self.cleaned_data["new_pin1"]
        credentials.validate_new_pin(pin)
        return pin

    def clean(self):
        _matching(self, "new_pin1", "new_pin2", _("The two new PINs do not match."))
        return super().clean()


class NewPasswordFields(MemberForm):
    new_password1 = SecretField(
        label=_("New password"), autocomplete="new-password", help_text=credentials.PASSWORD_RULES
    )
    new_password2 = SecretField(label=_("New password (again)"), autocomplete="new-password")

    # Whether the new password is the one the member signs in with: a password manager then
    # saves it under the member ID (saved_under). Not the sub password, which would replace
    # the saved main password under the same ID, nor a registration's, before there is an ID.
    signs_in_with = False

    def saved_under(self) -> str:
        """The member ID a password manager saves the new password under: form_fields.html
        writes it in a hidden username field, as these pages have no ID field of their own."""
        return self.member.member_id if self.signs_in_with else ""

    def clean_new_password1(self):
        password = self.cleaned_data["new_password1"]
        credentials.validate_new_password(password, self.member)
        if not isinstance(self, PinConfirmed):  # there, only once the PIN is right: after_pin
            self.differs_from_the_other_password(password)
        return password

    def after_pin(self) -> bool:
        try:
            self.differs_from_the_other_password(self.cleaned_data["new_password1"])
        except forms.ValidationError as error:
            self.add_error("new_password1", error)
            return False
        return True

    def differs_from_the_other_password(self, password: str) -> None:
        if self.member.sub_password and check_password(password, self.member.sub_password):
            raise forms.ValidationError(
                _("Your main password must be different from your sub password."),
                code="same_as_sub",
            )

    def clean(self):
        _matching(self, "new_password1", "new_password2", _("The two passwords do not match."))
        return super().clean()


def secret_version(member, field: str) -> str:
    """A fingerprint of the stored hash in `field`: it changes when the secret does, and
    tells nothing about the secret."""
    value = f"{member.pk}:{getattr(member, field)}"
    return salted_hmac("jenco.forms.secret_version", value, algorithm="sha256").hexdigest()[:20]


# A name refused (credentials.clean_name): registration, admin, create_staff.
NAME_REFUSED = _(
    "The name has a control or invisible character (a zero-width space, for one). Please "
    "type it again."
)

# What an account without a PIN (staff made with create_staff) is told on a PIN page.
WITHOUT_PIN = _(
    "Your account has no PIN and no view-only sign-in: you confirm changes with your password."
)


def refuse_confirmation(form, field: str, member, checked: PinCheck) -> None:
    """Put on `form`'s `field` why what confirms its change was not accepted; a lock also
    keeps the form from asking for its passwords and PINs again (Form.secrets_cleared)."""
    form.confirm_locked = checked.locked_until is not None
    form.add_error(field, confirm_problem(member, checked))


def confirm_problem(member, checked: PinCheck) -> str:
    """What a member reads when what confirms a change (flows.pin.confirm_change) was not
    accepted: the PIN's words, or the password's on an account without a PIN."""
    return (pin_problem if member.has_pin else password_problem)(checked)


def pin_problem(checked: PinCheck) -> str:
    """What a member reads when the PIN that confirms a change was not accepted."""
    if checked.locked_until is not None:
        return gettext(
            "Too many wrong PINs. Changes that need your PIN are locked until %(time)s. "
            "If you forgot your PIN, use “Forgot PIN?”."
        ) % {"time": times.try_again_at(checked.locked_until)}
    if checked.busy:
        return gettext("Your PIN is being checked in another window. Please try again in a moment.")
    return ngettext(
        "The PIN is incorrect. %(left)s more wrong PIN will lock the changes that need "
        "your PIN for %(minutes)s minutes.",
        "The PIN is incorrect. %(left)s more wrong PINs will lock the changes that need "
        "your PIN for %(minutes)s minutes.",
        checked.tries_left,
    ) % {"left": checked.tries_left, "minutes": settings.JENCO_PIN_LOCK_MINUTES}


def password_problem(checked: PinCheck) -> str:
    """The same for the password that confirms a change on an account without a PIN."""
    if checked.locked_until is not None:
        return gettext(
            "Too many wrong passwords. Changes that need your password are locked until "
            "%(time)s. If you forgot your password, sign out and use “Forgot password?”."
        ) % {"time": times.try_again_at(checked.locked_until)}
    if checked.busy:
        return gettext(
            "Your password is being checked in another window. Please try again in a moment."
        )
    return ngettext(
        "The password is incorrect. %(left)s more wrong password will lock these changes "
        "for %(minutes)s minutes.",
        "The password is incorrect. %(left)s more wrong passwords will lock these changes "
        "for %(minutes)s minutes.",
        checked.tries_left,
    ) % {"left": checked.tries_left, "minutes": settings.JENCO_PIN_LOCK_MINUTES}


def email_change_wait(wait: email_change.Wait) -> str:
    """What a member over an email-change limit reads: which limit, and until when."""
    if wait.for_address:
        # Neither "links were sent to it" nor when: the address may be a stranger's, and the
        # time would tell when other members asked for it.
        return gettext(
            "We cannot send a confirmation link to this address right now. Please ask again "
            "later, or use another address."
        )
    return gettext(
        "You have asked to change your email address too many times. You can ask again "
        "after %(time)s."
    ) % {"time": times.try_again_at(wait.until)}


class PinConfirmed(MemberForm):
    """A change confirmed with the member's PIN.

    The form checks everything but the PIN: the view confirms it (flows.pin.confirm_pin,
    which costs one of the member's tries) only once the form is valid, so a typo elsewhere
    never costs a PIN attempt. The form carries the version of the secret it changes, so
    sending it again after the change was made (a double tap, a stale tab) is told so, and
    costs no PIN attempt, instead of being taken for a wrong current PIN.
    """

    pin_field = "pin"
    replaces = ""  # the Member field this form changes

    # Always rendered with the current version (never what was sent back), so the form
    # shown after a "stale" error is fresh for the next try.
    version = FreshHiddenField()

    def __init__(self, member, *args, **kwargs):
        super().__init__(member, *args, **kwargs)
        self.current_version = secret_version(member, self.replaces) if self.replaces else ""
        self.fields["version"].initial = self.current_version
        if not member.has_pin and self.pin_field == "pin":
            # An account without a PIN (staff made with create_staff) confirms with its
            # password instead, as two-step's forms do (TwoStepConfirmed).
            del self.fields["pin"]
            self.pin_field = "current_password"
            self.fields["current_password"] = SecretField(
                label=_("Current password"),
                help_text=_("Your account has no PIN: confirm with the password you sign in with."),
            )

    @property
    def with_password(self) -> bool:
        return self.pin_field == "current_password"

    def clean(self):
        cleaned = super().clean()
        # Our page always sends the version; a form sent without it is not checked. Read
        # raw: a plain string compared, whatever was sent (NUL, a megabyte).
        name = self.add_prefix("version")
        if name in self.data and not constant_time_compare(
            str(self.data.get(name) or ""), self.current_version
        ):
            raise forms.ValidationError(
                _(
                    "This was already changed after the page was opened (perhaps the form "
                    "was sent twice). Nothing more was changed. To change it again, fill in "
                    "the form once more."
                ),
                code="stale",
            )
        return cleaned

    def pin_typed(self) -> str:
        """The PIN that confirms this change, for the view to confirm once the form is valid."""
        return self.cleaned_data[self.pin_field]

    def after_pin(self) -> bool:
        """Checks that compare what was typed with a secret of the member's (a new password
        with the other password), run by the view only once the PIN is confirmed: run in
        clean, they told whoever held the session, without the PIN and without limit,
        whether a guess was the member's password (helper-110). False, with the form's
        error, when one fails."""
        return True

    def refuse_pin(self, checked: PinCheck) -> None:
        refuse_confirmation(self, self.pin_field, self.member, checked)


class PinChangeForm(NewPinFields, PinConfirmed):
    pin_field = "current_pin"
    replaces = "pin"
    field_order = ["current_pin", "new_pin1", "new_pin2"]

    current_pin = PinField(label=_("Current PIN"))


class PasswordChangeForm(NewPasswordFields, PinConfirmed):
    replaces = "password"
    signs_in_with = True
    pin = PinField(label=_("PIN"), help_text=_("Your 6-digit PIN."))


class SubPasswordForm(NewPasswordFields, PinConfirmed):
    replaces = "sub_password"
    pin = PinField(label=_("PIN"), help_text=_("Your 6-digit PIN."))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Not the main password's labels: the two pages are easily taken for each other.
        self.fields["new_password1"].label = _("New sub password")
        self.fields["new_password2"].label = _("New sub password (again)")

    def differs_from_the_other_password(self, password: str) -> None:
        # Not member.check_password: a match on old parameters would hash the password again
        # and save it, signing this session out from under a form that only compares.
        if check_password(password, self.member.password):
            raise forms.ValidationError(
                _("Your sub password must be different from your main password."),
                code="same_as_main",
            )


class SubPasswordRemoveForm(PinConfirmed):
    """Removing the sub password: confirmed with the PIN, like setting it."""

    replaces = "sub_password"
    pin = PinField(label=_("PIN"), help_text=_("Your 6-digit PIN."))

    def clean(self):
        cleaned = super().clean()
        # Before the PIN (the view checks it last): nothing to remove costs no PIN attempt.
        if not self.errors and not self.member.sub_password:
            raise forms.ValidationError(
                _("You have no sub password to remove."), code="no_sub_password"
            )
        return cleaned


CODE_FORMAT_ERROR = _("The code is 6 digits. Check the email we sent you.")


class OneTimeCodeInput(forms.TextInput):
    """A digit box for a mailed code; what was typed is never written back into the page."""

    def format_value(self, value):
        return None


class MailboxCodeForm(Form):
    """The 6-digit code from the mailbox; whether it is right is the flow's question (a try
    is counted there), the form only checks its shape."""

    code = forms.CharField(
        label=_("Confirmation code"),
        max_length=MAX_TYPED_ID,
        help_text=_("The 6 digits in the email we sent you."),
        error_messages={
            "required": _("Enter the 6-digit code from the email."),
            "max_length": CODE_FORMAT_ERROR,
            "null_characters_not_allowed": CODE_FORMAT_ERROR,
        },
        widget=OneTimeCodeInput(
            attrs={"inputmode": "numeric", "autocomplete": "one-time-code", "maxlength": "12"}
        ),
    )

    def clean_code(self):
        code = credentials.normalise_pin(self.cleaned_data["code"])
        if len(code) != 6 or not code.isascii() or not code.isdigit():
            raise forms.ValidationError(CODE_FORMAT_ERROR, code="format")
        return code


# --- Two-step verification ------------------------------------------------------------------

TWO_STEP_CODE_FORMAT_ERROR = _(
    "Enter the 6 digits your authenticator app shows, or a 10-character recovery code."
)


class TwoStepCodeForm(Form):
    """The second step of a sign-in (/login/code/): an authenticator code or a recovery code
    in one box. Only the shape is checked here; accounts.flows.two_step says if it is right."""

    code = forms.CharField(
        label=_("Code"),
        max_length=MAX_TYPED_ID,
        help_text=_("The 6 digits in your authenticator app, or one of your recovery codes."),
        error_messages={
            "required": _("Enter the code from your authenticator app."),
            "max_length": TWO_STEP_CODE_FORMAT_ERROR,
            "null_characters_not_allowed": TWO_STEP_CODE_FORMAT_ERROR,
        },
        widget=OneTimeCodeInput(
            attrs={
                "autocomplete": "one-time-code",
                "autocapitalize": "characters",
                "spellcheck": "false",
                "maxlength": "16",
            }
        ),
    )

    def clean_code(self):
        code = two_step.normalise_code(self.cleaned_data["code"])
        if not two_step.looks_like_a_code(code):
            raise forms.ValidationError(TWO_STEP_CODE_FORMAT_ERROR, code="format")
        return code


class TwoStepConfirmed(MemberForm):
    """A two-step change confirmed with the PIN; an account without a PIN (staff made with
    create_staff) confirms with its password instead. The view checks it (a try counted)."""

    def __init__(self, member, *args, **kwargs):
        super().__init__(member, *args, **kwargs)
        if member.has_pin:
            self.fields["pin"] = PinField(label=_("PIN"), help_text=_("Your 6-digit PIN."))
        else:
            self.fields["password"] = SecretField(label=_("Password"))

    @property
    def with_pin(self) -> bool:
        return "pin" in self.fields


class MakesRecoveryCodes(TwoStepConfirmed):
    """A form whose answer shows new recovery codes. Its page carries a random token, so the
    form sent twice shows the codes the first sending made (flows.two_step.codes_made_by)."""

    # Rendered fresh with each page, never what was sent back.
    form_token = FreshHiddenField()

    def __init__(self, member, *args, **kwargs):
        super().__init__(member, *args, **kwargs)
        self.fields["form_token"].initial = secrets.token_urlsafe(16)

    def sent_token(self) -> str | None:
        return sent_form_token(self.data)


def sent_form_token(data) -> str | None:
    """The page's token, as sent (read raw: any string, cut short)."""
    token = data.get("form_token") if data else None
    return str(token)[:64] if token else None


class RecoveryCodesForm(MakesRecoveryCodes):
    """New recovery codes: the PIN."""


class AuthenticatorSetupForm(MakesRecoveryCodes):
    """Turning the authenticator on: the first code it shows, and the PIN."""

    field_order = ["code", "pin", "password"]

    code = forms.CharField(
        label=_("Code from the app"),
        max_length=MAX_TYPED_ID,
        help_text=_("The 6 digits your authenticator app shows for JENCO now."),
        error_messages={
            "required": _("Enter the 6 digits your authenticator app shows."),
            "max_length": _("The code is 6 digits."),
            "null_characters_not_allowed": _("The code is 6 digits."),
        },
        widget=OneTimeCodeInput(
            attrs={"inputmode": "numeric", "autocomplete": "one-time-code", "maxlength": "12"}
        ),
    )

    def clean_code(self):
        code = two_step.normalise_code(self.cleaned_data["code"])
        if not (len(code) == 6 and code.isascii() and code.isdigit()):
            raise forms.ValidationError(_("The code is 6 digits."), code="format")
        return code


class PasskeyAddForm(TwoStepConfirmed):
    """Adding a passkey: a name to tell it apart, and the PIN. The browser's answer, once the
    phone or key made the passkey, comes beside them (the view hands it to
    accounts.flows.passkeys)."""

    field_order = ["name", "pin", "password"]

    name = forms.CharField(
        label=_("Passkey name"),
        max_length=60,
        help_text=_("To tell your passkeys apart, for example “iPhone” or “Office PC”."),
        error_messages={
            "required": _("Give the passkey a name."),
            "max_length": _("The name is at most 60 characters."),
            "null_characters_not_allowed": _("The name has a character that cannot be used."),
        },
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
    )

    def clean_name(self):
        name = " ".join(unicodedata.normalize("NFKC", self.cleaned_data["name"]).split())
        if not name.isprintable() or not credentials.SHOWS_NOTHING.isdisjoint(name):
            raise forms.ValidationError(
                _("Enter a name without control or invisible characters."), code="unprintable"
            )
        if not name:
            raise forms.ValidationError(_("Give the passkey a name."), code="required")
        # Normalising can lengthen a name (one "ﷺ" is 18 characters): check the length kept.
        if len(name) > self.fields["name"].max_length:
            raise forms.ValidationError(
                self.fields["name"].error_messages["max_length"], code="max_length"
            )
        return name


# --- Forgot password / PIN -----------------------------------------------------------------


class ForgotForm(Form):
    """Member ID + the registered email + captcha: the same for password and PIN (seed p.2)."""

    username = MemberIDField()
    email = EmailAddressField(
        label=_("Email address"),
    )
    captcha = captcha_field()

    def clean_email(self):
        return valid_email(self.cleaned_data["email"])


class ResetPasswordForm(NewPasswordFields):
    signs_in_with = True
    captcha = captcha_field()

    def differs_from_the_other_password(self, password: str) -> None:
        """Not asked: refusing the sub password here told whoever reads the mailbox, one
        captcha a guess, whether a guess was the sub password (helper-112). The reset takes
        it, and the sub password goes (accounts.flows.reset.reset)."""


class ResetPinForm(NewPinFields):
    captcha = captcha_field()


class EmailChangeForm(PinConfirmed):
    email = EmailAddressField(
        label=_("New email address"),
    )
    pin = PinField(label=_("PIN"), help_text=_("Your 6-digit PIN."))

    def clean_email(self):
        email = valid_email(self.cleaned_data["email"])
        if email == credentials.normalise_email(self.member.email):
            raise forms.ValidationError(
                _("This is already your registered email address."), code="same"
            )
        if self.member.is_staff and email_change.mailbox_of_another_account(email, self.member):
            # Its reset links would reach whoever reads that inbox (members may share one).
            raise forms.ValidationError(STAFF_MAILBOX_TAKEN, code="taken")
        # Before the PIN: a member over the limit spends no PIN attempt finding out.
        wait = email_change.email_change_limit(self.member, email)
        if wait is not None:
            raise forms.ValidationError(email_change_wait(wait), code="limited")
        return email


# --- Registration ---------------------------------------------------------------------------


class LanguageSelect(forms.Select):
    """Each language named in itself, and marked so (lang="ja"): a screen reader reads 日本語
    in Japanese on an English page, as on the language switch."""

    def create_option(self, name, value, *args, **kwargs):
        option = super().create_option(name, value, *args, **kwargs)
        option["attrs"]["lang"] = value
        return option


class RegistrationForm(NewPasswordFields, NewPinFields):
    """Registration (/register/): name, email, password and PIN twice, language, consent to
    the terms, captcha. The password and PIN follow the rules of every other form
    (accounts.credentials); the form only validates, accounts.flows.registration stores."""

    name = forms.CharField(
        label=_("Name"),
        max_length=150,
        widget=forms.TextInput(attrs={"autocomplete": "name"}),
    )
    email = EmailAddressField(
        label=_("Email address"),
        help_text=_("We send a link to this address to confirm it."),
    )
    preferred_language = forms.ChoiceField(
        label=_("Preferred language"), choices=Member.Language.choices, widget=LanguageSelect
    )
    terms = forms.BooleanField(
        label=_("I agree to the JENCO terms of use."),
        template_name="accounts/widgets/consent_field.html",
        error_messages={"required": _("Please agree to the terms of use to register.")},
    )
    captcha = captcha_field()

    field_order = [
        "name",
        "email",
        "new_password1",
        "new_password2",
        "new_pin1",
        "new_pin2",
        "preferred_language",
        "terms",
        "captcha",
    ]

    def __init__(self, *args, **kwargs):
        # The member-to-be, unsaved: the password is compared with their name and email.
        super().__init__(Member(), *args, **kwargs)
        self.terms_url = settings.JENCO_TERMS_URL
        self.fields["new_password1"].label = _("Password")
        self.fields["new_password2"].label = _("Password (again)")
        self.fields["new_pin1"].label = _("PIN")
        self.fields["new_pin2"].label = _("PIN (again)")

    def clean_name(self):
        name = credentials.clean_name(self.cleaned_data["name"])
        if name is None:
            raise forms.ValidationError(NAME_REFUSED, code="unprintable")
        return name

    def clean_email(self):
        return valid_email(self.cleaned_data["email"])

    def clean_new_password1(self):
        self.member.name = self.cleaned_data.get("name", "")
        self.member.email = self.cleaned_data.get("email", "")
        return super().clean_new_password1()


class RegistrationPasswordForm(Form):
    """The emailed registration link's page: the password chosen when registering, so the
    account is created only by whoever registered, not by an owner of the address pressing a
    button on a stranger's registration (helper-167). accounts.flows.registration checks it."""

    password = SecretField(
        label=_("Password"),
        help_text=_("The password you chose when you registered."),
        error_messages={"required": _("Enter the password you chose when you registered.")},
    )
