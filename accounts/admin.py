import contextlib
import datetime
import re

import axes.admin
from axes.models import AccessAttempt, AccessFailureLog, AccessLog
from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin import FieldListFilter, helpers
from django.contrib.admin.exceptions import (
    DisallowedModelAdminLookup,
    DisallowedModelAdminToField,
)
from django.contrib.admin.options import ActionLocation, IncorrectLookupParameters
from django.contrib.admin.utils import get_fields_from_path
from django.contrib.admin.views.main import ORDER_VAR, ChangeList
from django.contrib.auth.admin import GroupAdmin
from django.contrib.auth.models import Group
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import (
    BadRequest,
    FieldDoesNotExist,
    PermissionDenied,
    ValidationError,
)
from django.core.paginator import Paginator
from django.db.models import Count, Q, Value
from django.db.models.constants import LOOKUP_SEP
from django.db.models.functions import Replace
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import formats
from django.utils.dateparse import parse_datetime
from django.utils.html import format_html, format_html_join
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from django.utils.safestring import mark_safe
from django.utils.text import smart_split
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext
from django_tasks_db.models import DBTaskResult

from accounts import credentials, lockout, sign_in_sql, times
from accounts.addresses import asked_network, is_shared, records_in, shown_network
from accounts.audit import Kind, record
from accounts.credentials import Step
from accounts.flows import email_change, reset, sessions, support, two_step
from accounts.forms import NAME_REFUSED, STAFF_MAILBOX_TAKEN, email_change_wait, valid_email
from accounts.models import Member, SecurityEvent

MAX_RESET_LINKS_AT_ONCE = 20
# What staff may edit on a member's page; every other field shown there is read-only.
# Deactivating is not among them: it takes a reason (the member page's Deactivate button).
MEMBER_EDITABLE_FIELDS = (
    "name",
    "preferred_language",
    "is_staff",
    "is_superuser",
    "groups",
)

# Never in an admin form, list, filter, sort order or search, on any model or through any
# relation: the hashes, the ID document number in full (pages show it masked), and what axes
# kept of a failed sign-in's request (its CSRF token, the ID typed) and of a session.
HIDDEN_FIELDS = frozenset(
    ("password", "pin", "sub_password", "id_document_number")
    + ("get_data", "post_data", "session_hash")  # django-axes'
)
# "3", "-3", "3.-1": column numbers, as admin's own sort links write them.
_ORDER = re.compile(r"-?[0-9]+(\.-?[0-9]+)*", re.ASCII)


def reaches_hidden(path: str) -> bool:
    """Whether a lookup, sort field or search field touches a hidden field anywhere along it."""
    return not HIDDEN_FIELDS.isdisjoint(path.lstrip("-^=@").split(LOOKUP_SEP))


def sign_in_at_member_login(request: HttpRequest) -> HttpResponse:
    """/admin/login/ authenticates nobody: staff sign in at /login/, where the captcha, the
    lockout, the security log and the absolute session lifetime apply to them as to members.

    `next` survives only as a path on this site. A signed-in member who is not staff gets
    admin's own refusal page (staff who are signed in go straight on to `next`).
    """
    if request.method == "GET" and request.user.is_authenticated:
        return admin.site.login(request)
    target = request.GET.get("next", "")
    if not (target.startswith("/") and url_has_allowed_host_and_scheme(target, None)):
        target = reverse("admin:index")
    return redirect_to_login(target, "accounts:login")


# A search of more words than this, or longer, searches nothing: every word is matched
# against every search field, and 7,900 words (an address of 16 KB) kept an app server's
# thread for 7 s; eight such searches at once held every thread (helper-111).
SEARCH_MOST_WORDS = 10
SEARCH_MOST_CHARACTERS = 200


class OnlyShownChangeList(ChangeList):
    def get_ordering(self, request, queryset):
        order = self.params.get(ORDER_VAR)
        if order and not self.model_admin.ordering_allowed(order, self):
            raise DisallowedModelAdminLookup(f"Ordering by {order!r} not allowed")
        return super().get_ordering(request, queryset)

    def get_filters(self, request):
        # The date bar's ?created__year=… becomes a date: Django turns the ValueError of a
        # wrong one into "invalid lookup" (the whole list), but a number too long for a C
        # long, or a date past 9999 (its next day, month or year), raised OverflowError or a
        # ValueError of its own, a 500 with a traceback (helper-111). The same answer here,
        # and for a time whose offset from UTC PostgreSQL refuses (?created__gte=…+16:00,
        # a DataError when the list is counted: helpers 113, 114).
        for values in self.get_filters_params().values():
            for value in values:
                if _offset_refused_by_postgresql(value):
                    raise IncorrectLookupParameters(f"{value!r}: an offset PostgreSQL refuses")
        try:
            return super().get_filters(request)
        except (OverflowError, ValueError) as error:
            raise IncorrectLookupParameters(error) from error


def _offset_refused_by_postgresql(value: str) -> bool:
    """A date and time whose offset from UTC PostgreSQL refuses: 16 hours or more, or one
    with a fraction of a second (+15:59:59.5: helper-114). Whole minutes only here, as every
    time zone's offset is now."""
    try:
        moment = parse_datetime(value.strip())
    except ValueError:
        return False
    offset = moment.utcoffset() if moment else None
    return offset is not None and (
        abs(offset) >= datetime.timedelta(hours=16) or bool(offset % datetime.timedelta(minutes=1))
    )


class OnlyWhatAdminShows:
    """A list answers only the filters, search and sort orders its page offers.

    Django applies any field lookup written into a list's query string
    (?id_document_number__startswith=AB) and sorts by any column number in ?o=: counting
    the rows that come back reads, one character at a time, what the page never shows.
    Here a lookup passes only if one of the list's own filters reads it, and ?o= only names
    columns with a sort link; anything else is refused (400) for every staff user,
    superusers too, and written to the security log.
    """

    # No counts beside each filter's choices (?_facets=): each is a count of the whole list
    # per choice, and the lockouts list's "paused" counts took 30 s (helper-113).
    show_facets = admin.ShowFacets.NEVER

    def lookup_allowed(self, lookup, value, request):
        # No stored text holds a NUL, and PostgreSQL refuses one in a query (a 500): a value
        # with one is refused as a probe, whichever filter it is given to.
        return lookup in self.shown_filter_parameters(request) and "\x00" not in str(value)

    def shown_filter_parameters(self, request) -> set[str]:
        """The query-string names the filters in the sidebar (and the date bar) read."""
        names = set()
        for list_filter in self.get_list_filter(request):
            if isinstance(list_filter, (list, tuple)):
                field_path, filter_class = list_filter
            elif callable(list_filter):
                names.update(list_filter(request, {}, self.model, self).expected_parameters())
                continue
            else:
                field_path, filter_class = list_filter, FieldListFilter.create
            field = get_fields_from_path(self.model, field_path)[-1]
            spec = filter_class(field, request, {}, self.model, self, field_path=field_path)
            names.update(spec.expected_parameters())
        if self.date_hierarchy:
            names.update(f"{self.date_hierarchy}__{part}" for part in ("year", "month", "day"))
        return {name for name in names if not reaches_hidden(name)}

    def get_sortable_by(self, request):
        return [
            name
            for name in super().get_sortable_by(request)
            if isinstance(sort_field := self.sort_field(name), str)
            and not reaches_hidden(sort_field)
        ]

    def sort_field(self, name):
        """What a list column sorts by, as admin's ChangeList reads it (None: no sort)."""
        if not callable(name):
            try:
                return self.opts.get_field(name).name
            except FieldDoesNotExist:
                if LOOKUP_SEP in name:
                    return name
        attr = name if callable(name) else getattr(self, name, getattr(self.model, name, None))
        if isinstance(attr, property):
            attr = attr.fget
        return getattr(attr, "admin_order_field", None)

    def ordering_allowed(self, order: str, changelist) -> bool:
        """?o= names only columns of this list that have a sort link."""
        if not _ORDER.fullmatch(order):
            return False
        columns = changelist.list_display  # with the action checkbox first, as ?o= counts
        return all(
            column < len(columns) and columns[column] in changelist.sortable_by
            for column in (int(part.lstrip("-")) for part in order.split("."))
        )

    def get_changelist(self, request, **kwargs):
        return OnlyShownChangeList

    def get_search_results(self, request, queryset, search_term):
        if (
            len(search_term) > SEARCH_MOST_CHARACTERS
            or len(list(smart_split(search_term))) > SEARCH_MOST_WORDS
        ):
            messages.warning(
                request,
                _(
                    "Nothing was searched: a search may have at most %(words)d words and "
                    "%(characters)d characters."
                )
                % {"words": SEARCH_MOST_WORDS, "characters": SEARCH_MOST_CHARACTERS},
            )
            return queryset.none(), False
        return super().get_search_results(request, queryset, search_term)

    def response_action(self, request, queryset, **kwargs):
        # Admin filters the list by the ticked rows' keys as sent: one that is no key at
        # all ("abc", a NUL) failed in the query, a 500 (helper-95). No list sends one.
        for key in request.POST.getlist(helpers.ACTION_CHECKBOX_NAME):
            try:
                self.opts.pk.to_python(key)
            except ValidationError:
                raise BadRequest("a ticked row that is no row") from None
        return super().response_action(request, queryset, **kwargs)

    def changelist_view(self, request, extra_context=None):
        with _probes_logged(request):
            return super().changelist_view(request, extra_context)

    def changeform_view(self, request, *args, **kwargs):
        with _probes_logged(request):  # ?_to_field=password on an add or change page
            return super().changeform_view(request, *args, **kwargs)

    def delete_view(self, request, *args, **kwargs):
        with _probes_logged(request):
            return super().delete_view(request, *args, **kwargs)


@contextlib.contextmanager
def _probes_logged(request):
    """A lookup, sort order or ?_to_field= that admin refuses (400) is written to the
    security log. Probing is the attack: who tried it, from where, is what the log is for."""
    try:
        yield
    except (DisallowedModelAdminLookup, DisallowedModelAdminToField):
        record(request, Kind.ADMIN_LOOKUP_REFUSED, actor=request.user)
        raise


class MigrationStateFilter(admin.SimpleListFilter):
    title = _("migration state")
    parameter_name = "migration"

    def lookups(self, request, model_admin):
        return [(step.value, step.label) for step in Step]

    def queryset(self, request, queryset):
        if self.value() in Step:
            return queryset.at_migration_step(Step(self.value()))
        return queryset


class ReasonForm(forms.Form):
    """Why a supervisor acts on a member: how the caller's identity was checked."""

    reason = forms.CharField(
        label=_("Reason and how identity was checked"),
        max_length=support.MAX_REASON,
        widget=forms.Textarea(attrs={"rows": 3}),
        # From what the member's page shows (helper-160: the example named a phone number
        # and a birth date JENCO does not hold, and another word for the ID document).
        help_text=_(
            "For example: the caller gave the name, the registered email address, the member "
            "ID and the last four characters of the ID document number (where registered); "
            "all match."
        ),
        error_messages={
            "required": _("Write the reason and how you checked who is calling."),
            "max_length": _("At most %(limit_value)d characters."),
        },
    )

    def clean_reason(self):
        reason = " ".join(self.cleaned_data["reason"].split())
        if not reason or not reason.isprintable():
            raise forms.ValidationError(_("Write the reason and how you checked who is calling."))
        return reason


class SetActiveForm(ReasonForm):
    """The reason, and which way: what the page offered, so a second press of its button (a
    double tap, a second supervisor on the same page) cannot undo the first (helper-102)."""

    active = forms.TypedChoiceField(
        choices=[("1", "1"), ("0", "0")],
        coerce=lambda value: value == "1",
        widget=forms.HiddenInput,
    )


class ResetTwoStepForm(ReasonForm):
    """The reason, and what the page showed would be removed (two_step.what_a_reset_removes):
    a page left open removes nothing the member set up since (helper-103)."""

    seen = forms.CharField(required=False, max_length=64, widget=forms.HiddenInput)


class MemberForm(forms.ModelForm):
    """The member's page: a name edited here is held to registration's rule (one line, no
    control or invisible character: the emails' greeting prints it)."""

    def clean_name(self):
        name = self.cleaned_data.get("name") or ""
        if "name" not in self.changed_data:
            # As imported (the JA import keeps a CP932 外字, a private-use character): other
            # fields of the page can still be saved.
            return name
        # A typo corrected in an imported name keeps its 外字.
        name = credentials.clean_name(name, kept=self.instance.name or "")
        if name is None:
            raise forms.ValidationError(NAME_REFUSED, code="unprintable")
        return name

    def clean(self):
        cleaned = super().clean()
        becomes_staff = {"is_staff", "is_superuser"} & set(self.changed_data)
        if (
            becomes_staff
            and (cleaned.get("is_staff") or cleaned.get("is_superuser"))
            and self.instance.email
            and email_change.mailbox_of_another_account(self.instance.email, self.instance)
        ):
            # A staff account's reset links would reach whoever else reads that inbox.
            raise forms.ValidationError(STAFF_MAILBOX_TAKEN, code="taken")
        staff = cleaned.get("is_staff", self.instance.is_staff)
        if cleaned.get("groups") and not staff:
            # A team (Support, Supervisor) opens nothing without staff status, and would
            # carry its permissions, unseen, into the day the account is made staff.
            self.add_error(
                "groups",
                forms.ValidationError(
                    _("Groups are the staff's teams: tick “staff” as well, or leave them empty."),
                    code="not_staff",
                ),
            )
        if cleaned.get("is_superuser") and not staff:
            # Every permission, and no way into admin to use or see them (helper-113).
            self.add_error(
                "is_superuser",
                forms.ValidationError(
                    _("A superuser is a staff account: tick “staff” as well."), code="not_staff"
                ),
            )
        return cleaned


class CorrectEmailForm(ReasonForm):
    """A supervisor corrects the registered email: the new address, and how identity was
    checked. The address changes only once the link mailed there is followed."""

    field_order = ["email", "reason"]

    email = forms.CharField(
        label=_("New email address"),
        max_length=254,
        widget=forms.EmailInput(attrs={"spellcheck": "false"}),
        error_messages={"required": _("Enter the new email address.")},
    )

    def __init__(self, member, *args, **kwargs):
        self.member = member
        super().__init__(*args, **kwargs)

    def clean_email(self):
        email = valid_email(self.cleaned_data["email"])
        if self.member.email and email == credentials.normalise_email(self.member.email):
            raise forms.ValidationError(_("This is already the registered address."))
        if self.member.is_staff and email_change.mailbox_of_another_account(email, self.member):
            raise forms.ValidationError(STAFF_MAILBOX_TAKEN, code="taken")
        wait = email_change.address_limit(email)
        if wait is not None:
            raise forms.ValidationError(email_change_wait(wait))
        return email


def _tell_lifted(model_admin, request, member, lifted) -> None:
    """Tell the agent what a lift did for the member (the member's page or the lockouts
    list): a warning when the member's network stays paused, which no lift of theirs ends."""
    network = support.network_left_paused(member, lifted)
    level = messages.SUCCESS if network is None else messages.WARNING
    model_admin.message_user(request, support.lifted_in_words(member, lifted, network), level)


@admin.register(Member)
class MemberAdmin(OnlyWhatAdminShows, admin.ModelAdmin):
    """Support staff find a member and tell them which email is registered; nothing more.

    Hashes (password, PIN, sub password) are never among the fields, and the ID document
    number shows only its last digits.
    """

    list_display = ["member_id", "name", "email", "migration_state", "last_login", "date_joined"]
    list_filter = [MigrationStateFilter, "origin", "is_active", "is_staff", "preferred_language"]
    # name_without_spaces: the alias get_search_results adds.
    search_fields = ["member_id", "name", "email", "name_without_spaces"]
    # What the box finds, said under it (helper-160: no hint of it).
    search_help_text = _("Search by member ID, name (with or without its space) or email address.")
    ordering = ["member_id"]
    list_per_page = 50
    show_full_result_count = False
    fieldsets = [
        (
            None,
            {
                "fields": [
                    "member_id",
                    "name",
                    "email",
                    "masked_id_document_number",
                    "preferred_language",
                ]
            },
        ),
        (
            _("Migration"),
            {
                "fields": [
                    "origin",
                    "imported_at",
                    "migration_state",
                    "mailbox_proved_at",
                    "on_default_pin",
                    "on_default_password",
                ]
            },
        ),
        (_("Activity"), {"fields": ["last_login", "date_joined", "pin_lock_ends"]}),
        (_("Access"), {"fields": ["is_active", "is_staff", "is_superuser", "groups"]}),
    ]
    # The email is where reset links go: it changes only through the member's own confirmed
    # change (Profile), which is logged and tells the old address, never by a silent edit here.
    readonly_fields = [
        field
        for _title, options in fieldsets
        for field in options["fields"]
        if field not in MEMBER_EDITABLE_FIELDS
    ]
    filter_horizontal = ["groups"]
    actions = ["send_password_reset_link", "send_pin_reset_link"]

    def get_readonly_fields(self, request, obj=None):
        # Who is staff, who is a superuser, and which team: a superuser's to decide, even when
        # a group is given the right to change members. A Supervisor given it made a member a
        # superuser (helper-113).
        if request.user.is_superuser:
            return self.readonly_fields
        return [*self.readonly_fields, "is_staff", "is_superuser", "groups"]

    change_list_template = "admin/accounts/member/change_list.html"
    change_form_template = "admin/accounts/member/change_form.html"
    form = MemberForm

    def get_fieldsets(self, request, obj=None):
        left_out = set()
        if obj is not None and not obj.has_pin:
            # An account without a PIN (staff from create_staff): no PIN fields. Its lock on
            # the changes its password confirms is kept in pin_locked_until, and the support
            # view above the form words it as that (_support.html).
            left_out |= {"on_default_pin", "pin_lock_ends"}
        if not request.user.is_superuser:
            # Staff accounts are a superuser's alone: anyone else is shown members only, for
            # whom staff, superuser and team always read "no" (helper-160).
            left_out |= {"is_staff", "is_superuser", "groups"}
        return [
            (title, {**options, "fields": [f for f in options["fields"] if f not in left_out]})
            for title, options in self.fieldsets
        ]

    @admin.display(description=_("migration state"))
    def migration_state(self, member):
        if member.origin != Member.Origin.JA:
            return "—"
        return credentials.migration_step(member).label

    @admin.display(description=Member._meta.get_field("pin_locked_until").verbose_name)
    def pin_lock_ends(self, member):
        """Rounded up to the minute, as the summary above and the member's message say it."""
        if member.pin_locked_until is None:
            return "—"
        return formats.date_format(times.minute_up(member.pin_locked_until), "DATETIME_FORMAT")

    @admin.display(description=_("ID document number"))
    def masked_id_document_number(self, member):
        return member.masked_id_document_number or "—"

    def has_add_permission(self, request):
        return False  # members come from the JA import and registration

    def has_delete_permission(self, request, obj=None):
        # Not even for superusers: a deleted member's security log loses whom it was about
        # (and a deleted staff member's, who did it), and nothing would record the deletion
        # (helper-111). Deactivating, with a reason, is how an account is closed.
        return False

    def get_queryset(self, request):
        # Every page, action and support view reads members through here (_member_or_404).
        queryset = super().get_queryset(request)
        if support.hides_staff(request.user):
            queryset = queryset.exclude(pk__in=support.staff_accounts().values("pk"))
        return queryset

    def get_list_filter(self, request):
        # Who sees no staff account has nothing to filter by it: "Yes" always found none.
        if support.hides_staff(request.user):
            return [name for name in self.list_filter if name != "is_staff"]
        return self.list_filter

    def has_send_reset_link_permission(self, request):
        return request.user.has_perm("accounts.send_reset_link")

    @admin.action(
        permissions=["send_reset_link"],
        description=_("Email a password reset link to the registered address"),
    )
    def send_password_reset_link(self, request, queryset):
        return self._send_reset_links(request, queryset, reset.PASSWORD)

    @admin.action(
        permissions=["send_reset_link"],
        description=_("Email a PIN reset link to the registered address"),
    )
    def send_pin_reset_link(self, request, queryset):
        return self._send_reset_links(request, queryset, reset.PIN)

    def _send_reset_links(self, request, queryset, kind):
        # One member at a time is the support case; a mass mailing from here would spend every
        # member's hourly limit and drown their own requests.
        if queryset.count() > MAX_RESET_LINKS_AT_ONCE:
            self.message_user(
                request,
                _("Select at most %(count)d members to send reset links to.")
                % {"count": MAX_RESET_LINKS_AT_ONCE},
                messages.ERROR,
            )
            return
        # Asked first, naming the members and those who will get nothing, as Django's "Delete
        # selected" asks: a row ticked by mistake is a member mailed out of the blue.
        if request.POST.get("post") != "yes":
            return self._reset_links_confirmation(request, queryset, kind)
        # The member's language, not the agent's: the email renders in it.
        sent = []
        for member in queryset.order_by("member_id"):
            sending = reset.email_reset_link(kind, member, request=request, actor=request.user)
            if sending.sent:
                sent.append(member.member_id)
            else:  # why, and when it can be sent again, as the member's own page says it
                self.message_user(
                    request, _refusal(sending, member, before=False), messages.WARNING
                )
        if sent:
            # Which link and which members: the two actions sit next to each other in the
            # menu, and a row ticked by mistake is a member mailed out of the blue.
            if kind is reset.PASSWORD:
                told = ngettext(
                    "A password reset link was emailed to %(count)d member: %(members)s.",
                    "A password reset link was emailed to %(count)d members: %(members)s.",
                    len(sent),
                )
            else:
                told = ngettext(
                    "A PIN reset link was emailed to %(count)d member: %(members)s.",
                    "A PIN reset link was emailed to %(count)d members: %(members)s.",
                    len(sent),
                )
            members = ", ".join(sent)
            self.message_user(
                request, told % {"count": len(sent), "members": members}, messages.SUCCESS
            )

    def _reset_links_confirmation(self, request, queryset, kind) -> TemplateResponse:
        members = [
            (member, _refusal(refused, member, before=True) if refused else None)
            for member in queryset.order_by("member_id")
            for refused in [reset.link_refused(kind, member)]
        ]
        if kind is reset.PASSWORD:
            title = _("Email a password reset link to the registered address")
        else:
            title = _("Email a PIN reset link to the registered address")
        return TemplateResponse(
            request,
            "admin/accounts/member/send_reset_links_confirmation.html",
            {
                **self.admin_site.each_context(request),
                "title": title,
                "opts": self.model._meta,
                "media": self.media,  # Django's page writes it with the CSP nonce
                "pin": kind is reset.PIN,
                "members": members,
                "to_send": sum(skipped is None for _member, skipped in members),
                "action": request.POST.get("action", ""),
                "select_across": request.POST.get("select_across") == "1",
                "selected": request.POST.getlist(helpers.ACTION_CHECKBOX_NAME),
                "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
            },
        )

    def get_search_results(self, request, queryset, search_term):
        # "jpn 1234567" or "ＪＰＮ１２３４５６７" find JPN1234567: the rule members type by.
        member_id = credentials.normalise_member_id(search_term)
        if credentials.is_member_id(member_id):
            return queryset.filter(member_id=member_id), False
        # 山田太郎 finds 山田 太郎 and 山田　太郎: a caller gives a name without the space the
        # JA export (or registration) put between family and given name. A search field of
        # its own, so it is one more condition in the search's one pass over the members
        # (helper-154: OR-ed as a subquery, each search read every member twice).
        without_spaces = Replace(Replace("name", Value(" "), Value("")), Value("\u3000"), Value(""))
        queryset = queryset.alias(name_without_spaces=without_spaces)
        return super().get_search_results(request, queryset, search_term)

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        if change and form.changed_data:
            details = {"team": support.team(request.user), "fields": sorted(form.changed_data)}
            record(request, Kind.MEMBER_EDITED, obj, actor=request.user, details=details)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        member = self.get_object(request, object_id)
        if member is not None and request.method == "GET":
            extra_context = {**(extra_context or {}), **self._support_view(request, member)}
        response = super().change_view(request, object_id, form_url, extra_context)
        if response.status_code == 200 and not support.viewed_lately(request, member):
            # Who looked at whose personal data, when and from where: the first view of each
            # agent's half hour from one address. Admin comes back to this page after each
            # action, and each reload was a line of its own, which pushed what happened to
            # the member off the page's log. The team (the staff member's groups) is what
            # the member reads under Account > Security; never the staff member's name. A
            # post answered with the page (a superuser's form refused) shows the record as
            # well as a GET does (helper-158).
            details = {"team": support.team(request.user)}
            record(request, Kind.MEMBER_VIEWED, member, actor=request.user, details=details)
        return response

    # --- The member's page as the support view (issue 17) --------------------------------

    def _support_view(self, request, member) -> dict:
        user = request.user
        return {
            # The heading as the action pages head theirs, 「JPN3000001 山田 太郎」: the agent
            # checks the caller's name without scrolling to the fields (helper-160).
            "subtitle": f"{member.member_id} {member.name}".strip(),
            "lock": support.lock_state(member),
            "two_step": support.two_step_state(member),
            "sign_ins": member.security_events.filter(kind__in=SecurityEvent.SIGN_INS).order_by(
                "-created"
            )[:5],
            "timeline": support.timeline(member),
            "code_mailed": support.last_code_mailed(member),
            "email_waiting": email_change.waiting(member),
            "code_minutes": settings.JENCO_MAILBOX_CODE_MINUTES,
            "can_clear_lockout": user.has_perm("axes.delete_accessattempt"),
            "can_send_reset_link": user.has_perm("accounts.send_reset_link"),
            **_reset_links_now(member),
            "can_reset_two_step": user.has_perm("accounts.reset_two_step"),
            "can_deactivate": user.has_perm("accounts.deactivate_member"),
            "can_correct_email": user.has_perm("accounts.correct_email"),
        }

    def get_urls(self):
        def view(function):
            return self.admin_site.admin_view(function)

        return [
            path(
                "<path:object_id>/clear-lockout/",
                view(self.clear_lockout_view),
                name="accounts_member_clear_lockout",
            ),
            path(
                "<path:object_id>/send-reset-link/<str:kind>/",
                view(self.send_reset_link_view),
                name="accounts_member_send_reset_link",
            ),
            path(
                "<path:object_id>/sign-out/",
                view(self.sign_out_everywhere_view),
                name="accounts_member_sign_out",
            ),
            path(
                "<path:object_id>/reset-two-step/",
                view(self.reset_two_step_view),
                name="accounts_member_reset_two_step",
            ),
            path(
                "<path:object_id>/correct-email/",
                view(self.correct_email_view),
                name="accounts_member_correct_email",
            ),
            path(
                "<path:object_id>/active/",
                view(self.set_active_view),
                name="accounts_member_set_active",
            ),
            *super().get_urls(),
        ]

    def history_view(self, request, object_id, extra_context=None):
        # Django's change history lists what admin's own form saved, and nothing an agent does
        # (lifts, links, resets, views): an agent opening 履歴 read "no change history". The
        # member's security log has it all, that form's edits included (MEMBER_EDITED).
        member = self._member_or_404(request, object_id)
        if not request.user.has_perm("accounts.view_securityevent"):
            return super().history_view(request, object_id, extra_context)
        log = reverse("admin:accounts_securityevent_changelist")
        return redirect(f"{log}?{urlencode({'q': member.member_id})}")

    def _member_or_404(self, request, object_id) -> Member:
        member = self.get_object(request, object_id)
        if member is None or not self.has_view_permission(request, member):
            raise Http404
        return member

    def _back(self, member) -> HttpResponse:
        return redirect("admin:accounts_member_change", member.pk)

    def clear_lockout_view(self, request, object_id):
        if not request.user.has_perm("axes.delete_accessattempt"):
            raise PermissionDenied
        member = self._member_or_404(request, object_id)
        if request.method != "POST":
            # Asked first, as the lockouts list's action asks: a lift gives whoever is
            # guessing at the ID new tries. What is lifted is what is paused on the POST.
            return self._lift_confirmation(request, member)
        lifted = support.clear_lockout(request, member, actor=request.user)
        if lifted:
            _tell_lifted(self, request, member, lifted)
        else:
            self._nothing_to_lift(request, member)
        return self._back(member)

    def _nothing_to_lift(self, request, member) -> None:
        message = _("%(member_id)s was not paused: nothing to lift.")
        self.message_user(request, message % {"member_id": member.member_id}, messages.INFO)

    def _lift_confirmation(self, request, member) -> HttpResponse:
        state = support.lock_state(member, networks=False)
        count = len(state.paused())
        if not count:
            self._nothing_to_lift(request, member)
            return self._back(member)
        # One pause or several, each with when it ends by itself: the agent may tell the
        # member to wait rather than give whoever is guessing new tries (helper-160).
        words = {
            "member_id": member.member_id,
            "pauses": support.pauses_and_ends_in_words(member, state),
        }
        return self._reason_page(
            request,
            member,
            forms.Form(),
            title=_("Lift the pause") if count == 1 else _("Lift the pauses"),
            # Two strings, not ngettext: Japanese has one plural form, and says one pause
            # otherwise than several.
            text=(
                _(
                    "Lift this pause on %(member_id)s: %(pauses)s? It is lifted from every "
                    "address, and the member's activity says JENCO Support lifted it."
                )
                if count == 1
                else _(
                    "Lift these pauses on %(member_id)s: %(pauses)s? They are lifted from "
                    "every address, and the member's activity says JENCO Support lifted them."
                )
            )
            % words,
            button=_("Yes, lift it") if count == 1 else _("Yes, lift them"),
        )

    def send_reset_link_view(self, request, object_id, kind):
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if not request.user.has_perm("accounts.send_reset_link"):
            raise PermissionDenied
        member = self._member_or_404(request, object_id)
        reset_kind = {"password": reset.PASSWORD, "pin": reset.PIN}.get(kind)
        if reset_kind is None:
            raise Http404
        sending = reset.email_reset_link(reset_kind, member, request=request, actor=request.user)
        if sending.sent:
            sent = (
                _("Sent: a password reset link is on its way to %(email)s.")
                if reset_kind is reset.PASSWORD
                else _("Sent: a PIN reset link is on its way to %(email)s.")
            ) % {"email": member.email}
            waiting = email_change.waiting(member)
            if waiting is None:
                self.message_user(request, sent, messages.SUCCESS)
            else:
                # A supervisor's correction not yet confirmed: the caller may be waiting at
                # the new mailbox for a link that went to the old one (helper-160).
                old_address = _(
                    "This is the old registered address: the change to %(new)s is made only "
                    "when the member opens the link mailed there."
                ) % {"new": waiting.new_email}
                # Two sentences: Japanese puts no space between them.
                both = _("%(sent)s %(note)s") % {"sent": sent, "note": old_address}
                self.message_user(request, both, messages.WARNING)
        else:  # a second press is told the first one's link is on its way
            level = (
                messages.WARNING if sending.refused is reset.Refused.JUST_SENT else messages.ERROR
            )
            self.message_user(request, _refusal(sending, member, before=False), level)
        return self._back(member)

    def sign_out_everywhere_view(self, request, object_id):
        """ "Someone signed in who wasn't me": every session of the member ends now, once
        the agent says yes (a press meant for the button beside it signed a member out of
        every device at once, helper-160)."""
        if not request.user.has_perm("accounts.send_reset_link"):
            raise PermissionDenied
        member = self._member_or_404(request, object_id)
        if request.method != "POST":
            return self._reason_page(
                request,
                member,
                forms.Form(),
                title=_("Sign the member out everywhere"),
                text=_(
                    "Sign %(member_id)s out on every device now? Each one shows the sign-in "
                    "page at its next step, and the member's activity says JENCO Support "
                    "signed them out. Whoever it was still has the password: send a password "
                    "reset link too."
                )
                % {"member_id": member.member_id},
                button=_("Yes, sign them out"),
            )
        ended = sessions.end_every(
            request, member, actor=request.user, team=support.team(request.user)
        )
        if ended:
            self.message_user(
                request,
                ngettext(
                    "%(member_id)s is signed out on %(count)d device. To keep whoever it was "
                    "out, send a password reset link too.",
                    "%(member_id)s is signed out on %(count)d devices. To keep whoever it was "
                    "out, send a password reset link too.",
                    ended,
                )
                % {"member_id": member.member_id, "count": ended},
                messages.SUCCESS,
            )
        else:
            self.message_user(
                request,
                _("%(member_id)s was not signed in anywhere: nothing to end.")
                % {"member_id": member.member_id},
                messages.INFO,
            )
        return self._back(member)

    def reset_two_step_view(self, request, object_id):
        if not request.user.has_perm("accounts.reset_two_step"):
            raise PermissionDenied
        member = self._member_or_404(request, object_id)
        form = ResetTwoStepForm(
            request.POST if request.method == "POST" else None,
            initial={"seen": two_step.what_a_reset_removes(member)},
        )
        if form.is_valid():
            try:
                removed = support.reset_two_step(
                    request,
                    member,
                    actor=request.user,
                    reason=form.cleaned_data["reason"],
                    seen=form.cleaned_data["seen"],
                )
            except two_step.ChangedSinceSeen:
                self.message_user(
                    request,
                    _(
                        "%(member_id)s set up two-step verification or a passkey after this "
                        "page was opened: nothing was turned off. Check with the member, then "
                        "open the page again."
                    )
                    % {"member_id": member.member_id},
                    messages.WARNING,
                )
                return self._back(member)
            if removed:
                self.message_user(request, _two_step_reset_done(member, removed), messages.SUCCESS)
            else:
                self.message_user(
                    request,
                    _("%(member_id)s had no two-step verification or passkey: nothing changed.")
                    % {"member_id": member.member_id},
                    messages.INFO,
                )
            return self._back(member)
        return self._reason_page(
            request,
            member,
            form,
            title=_("Turn off two-step verification"),
            text=_(
                "Only after checking who is calling. The member's authenticator app, recovery "
                "codes and passkeys stop working, and they are told by email."
            ),
            button=_("Turn off two-step verification"),
        )

    def correct_email_view(self, request, object_id):
        if not request.user.has_perm("accounts.correct_email"):
            raise PermissionDenied
        member = self._member_or_404(request, object_id)
        form = CorrectEmailForm(member, request.POST if request.method == "POST" else None)
        if form.is_valid():
            try:
                email_change.start_correction(
                    request,
                    member,
                    form.cleaned_data["email"],
                    actor=request.user,
                    reason=form.cleaned_data["reason"],
                    team=support.team(request.user),
                )
            except email_change.EmailChangeLimited as limited:
                form.add_error("email", email_change_wait(limited.wait))
            except email_change.CorrectionJustStarted as started:
                form.add_error(
                    "email",
                    _(
                        "A correction to %(email)s was started for this member a moment ago, "
                        "by %(by)s: nothing was sent. Open the member's page again to see it "
                        "before correcting once more."
                    )
                    % {"email": started.masked, "by": started.by},
                )
            else:
                self.message_user(
                    request,
                    _(
                        "A confirmation link is on its way to %(email)s, and a notice to the "
                        "old address. The address changes when the member follows the link "
                        "(within %(hours)d hours); then they can ask for a password reset."
                    )
                    % {
                        "email": form.cleaned_data["email"],
                        "hours": settings.JENCO_EMAIL_CHANGE_HOURS,
                    },
                    messages.SUCCESS,
                )
                return self._back(member)
        return self._reason_page(
            request,
            member,
            form,
            title=_("Correct the registered email address"),
            text=_(
                "For a member whose registered mailbox no longer works. Only after checking who "
                "is calling: the link goes to the new address, a notice to the old one."
            ),
            button=_("Send the confirmation link"),
        )

    def set_active_view(self, request, object_id):
        if not request.user.has_perm("accounts.deactivate_member"):
            raise PermissionDenied
        member = self._member_or_404(request, object_id)
        form = SetActiveForm(
            request.POST if request.method == "POST" else None,
            initial={"active": "0" if member.is_active else "1"},
        )
        if form.is_valid():
            activate = form.cleaned_data["active"]
            # Already so (the same form sent again): nothing is logged, and the page says
            # what the first press did.
            support.set_active(
                request,
                member,
                actor=request.user,
                active=activate,
                reason=form.cleaned_data["reason"],
            )
            self.message_user(
                request,
                (
                    _("%(member_id)s is active again: the member can sign in.")
                    if activate
                    else _(
                        "%(member_id)s is deactivated: nobody can sign in to it, and its "
                        "sessions end at their next page."
                    )
                )
                % {"member_id": member.member_id},
                messages.SUCCESS,
            )
            return self._back(member)
        # The way the page offers: as posted, or as the member stands when nothing valid was.
        activate = getattr(form, "cleaned_data", {}).get("active", not member.is_active)
        return self._reason_page(
            request,
            member,
            form,
            title=_("Reactivate the account") if activate else _("Deactivate the account"),
            text=(
                _("The member can sign in again with their password.")
                if activate
                else _(
                    "Nobody can sign in to this account until it is reactivated; it is signed "
                    "out everywhere. Nothing of the account is deleted."
                )
            ),
            button=_("Reactivate the account") if activate else _("Deactivate the account"),
        )

    def _reason_page(self, request, member, form, *, title, text, button):
        context = {
            **self.admin_site.each_context(request),
            "title": title,
            "text": text,
            "button": button,
            "member": member,
            "form": form,
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "admin/accounts/member/reason.html", context)

    def changelist_view(self, request, extra_context=None):
        extra_context = {**(extra_context or {}), "migration_summary": migration_summary()}
        return super().changelist_view(request, extra_context)


def _two_step_reset_done(member, removed: two_step.Removed) -> str:
    """What a supervisor's reset took away, as it was: two-step, passkeys or both."""
    values = {"member_id": member.member_id, "count": removed.passkeys}
    if not removed.passkeys:
        done = _("Two-step verification is off for %(member_id)s (they had no passkeys).")
    elif not removed.two_step:
        done = ngettext(
            "%(count)d passkey of %(member_id)s was removed (two-step verification was off).",
            "%(count)d passkeys of %(member_id)s were removed (two-step verification was off).",
            removed.passkeys,
        )
    else:
        done = ngettext(
            "Two-step verification is off for %(member_id)s and their %(count)d passkey is "
            "removed.",
            "Two-step verification is off for %(member_id)s and their %(count)d passkeys are "
            "removed.",
            removed.passkeys,
        )
    told = _("They were told by email; they sign in with the password now.")
    return f"{done % values} {told}"


# Why no reset link goes: (said after pressing, said in the question before it).
_REFUSALS = {
    reset.Refused.NO_EMAIL: (
        _("Not sent: %(member_id)s has no registered email address."),
        _("skipped: no registered email address"),
    ),
    reset.Refused.INACTIVE: (
        _("Not sent: %(member_id)s is deactivated."),
        _("skipped: deactivated"),
    ),
    reset.Refused.NO_PIN: (
        _("Not sent: %(member_id)s is a staff account and has no PIN."),
        _("skipped: a staff account, with no PIN"),
    ),
    reset.Refused.HOURLY_LIMIT: (
        _(
            "Not sent: %(count)d links went to %(member_id)s in the last hour, the most there "
            "can be. It can be sent again at %(time)s."
        ),
        _(
            "skipped: %(count)d links went to them in the last hour, the most there can be "
            "(it can be sent again at %(time)s)"
        ),
    ),
    reset.Refused.JUST_SENT: (
        _(
            "Not sent again: a link went to %(member_id)s less than a minute ago and is on its "
            "way. Another can be sent at %(time)s."
        ),
        _("skipped: a link went to them less than a minute ago (another can go at %(time)s)"),
    ),
}

# The member page's words where a button would be, when a link cannot go now (by kind).
_NOT_NOW = {
    reset.Refused.HOURLY_LIMIT: {
        "password": _(
            "The password reset links one hour allows (%(count)d) have all been sent: another "
            "can be sent at %(time)s."
        ),
        "pin": _(
            "The PIN reset links one hour allows (%(count)d) have all been sent: another can be "
            "sent at %(time)s."
        ),
    },
    reset.Refused.JUST_SENT: {
        "password": _(
            "A password reset link was sent less than a minute ago: another can be sent at "
            "%(time)s."
        ),
        "pin": _(
            "A PIN reset link was sent less than a minute ago: another can be sent at %(time)s."
        ),
    },
}


def _refusal(sending: reset.LinkSending, member, *, before: bool) -> str:
    """Why a reset link is not mailed to `member`, with when it can be: after the press, or
    `before` it (the reset-link actions' question, in the list's words)."""
    after_words, before_words = _REFUSALS[sending.refused]
    return (before_words if before else after_words) % {
        "member_id": member.member_id,
        "count": settings.JENCO_RESET_EMAILS_PER_HOUR,
        "time": times.try_again_at(sending.again_at) if sending.again_at else "",
    }


def _reset_links_now(member) -> dict:
    """The member page's reset-link buttons, as sending decides (reset.link_refused): which
    would send now (`reset_offered`), and why one would not (`reset_not_now`, each said
    once; no address has its own paragraph, `reset_no_email`), and how many went this hour
    (`reset_sent`, helper-160). The page offered both to a
    deactivated member and past the hour's limit, and said so only after the press
    (helper-164)."""
    offered, not_now, no_email, sent = {}, [], False, []
    for kind in (reset.PASSWORD, reset.PIN):
        refused = reset.link_refused(kind, member)
        offered[kind.name] = refused is None
        # How many went this hour, and when the last did: past the limit too, the time the
        # caller is told to look for (helper-168).
        if said := _sent_this_hour(kind, member):
            sent.append(said)
        if refused is None or refused.refused is reset.Refused.NO_PIN:
            continue  # a staff account has no PIN to reset: no button, nothing to say
        if refused.refused is reset.Refused.NO_EMAIL:
            no_email = True
        elif refused.refused is reset.Refused.INACTIVE:
            if not not_now:  # said once for both
                not_now.append(_("No reset link can be sent: the account is deactivated."))
        else:
            not_now.append(
                _NOT_NOW[refused.refused][kind.name]
                % {
                    "count": settings.JENCO_RESET_EMAILS_PER_HOUR,
                    "time": times.try_again_at(refused.again_at),
                }
            )
    return {
        "reset_offered": offered,
        "reset_not_now": not_now,
        "reset_no_email": no_email,
        "reset_sent": sent,
    }


def _sent_this_hour(kind, member) -> str | None:
    """How many links of `kind` went to the member this hour, and when the last did: for
    the "I never got it" call, and before a press that would spend one of the hour's."""
    sent = reset.sent_this_hour(kind, member)
    if not sent:
        return None
    if kind is reset.PASSWORD:
        words = ngettext(
            "%(count)d password reset link was emailed in the last hour, at %(time)s (the hour "
            "allows %(limit)d).",
            "%(count)d password reset links were emailed in the last hour, the last at "
            "%(time)s (the hour allows %(limit)d).",
            len(sent),
        )
    else:
        words = ngettext(
            "%(count)d PIN reset link was emailed in the last hour, at %(time)s (the hour "
            "allows %(limit)d).",
            "%(count)d PIN reset links were emailed in the last hour, the last at %(time)s "
            "(the hour allows %(limit)d).",
            len(sent),
        )
    limit = settings.JENCO_RESET_EMAILS_PER_HOUR
    return words % {"count": len(sent), "time": times.sent_at(sent[0]), "limit": limit}


def migration_summary() -> dict:
    """How far the JA migration has come, for the support team's list page."""
    # Each member counts at the one step due, so the steps add up to `imported`.
    at_step = {
        step.value: Count("pk", filter=Member.objects.migration_step_condition(step))
        for step in Step
    }
    return Member.objects.filter(origin=Member.Origin.JA).aggregate(imported=Count("pk"), **at_step)


class KeysFirstPaginator(Paginator):
    """A page's rows found by their keys first, then read whole with what they show (the
    member, the staff member): a late page of a long log skips its rows on the index alone.
    Skipping 199,900 joined rows (`?p=1999` of 200,000) took twice as long, and eight staff
    at once on late pages made a member's sign-in page wait seconds (helper-115)."""

    def page(self, number):
        number = self.validate_number(number)
        bottom = (number - 1) * self.per_page
        top = bottom + self.per_page
        if top + self.orphans >= self.count:
            top = self.count
        keys = list(self.object_list.values_list("pk", flat=True)[bottom:top])
        return self._get_page(self.object_list.filter(pk__in=keys), number, self)


@admin.register(SecurityEvent)
class SecurityEventAdmin(OnlyWhatAdminShows, admin.ModelAdmin):
    """Read-only for everyone: a log nobody edits."""

    paginator = KeysFirstPaginator

    list_display = ["created", "kind", "member", "member_id_typed", "actor", "ip_address"]
    # By time only: a sort on the other columns of 200,000 entries, with a late page, took
    # about 1 s each, and eight at once made a member's sign-in page wait 3.7 s (helper-114).
    sortable_by = ["created"]
    list_filter = ["kind", "created"]
    search_fields = ["member__member_id", "member_id_typed", "ip_address"]
    date_hierarchy = "created"
    list_select_related = ["member", "actor"]
    show_full_result_count = False
    # The details in words, not the stored JSON: it holds an encrypted session key (what
    # Account > Security ends a session by) and the staff groups' names as stored.
    fields = [
        "created",
        "kind",
        "member",
        "member_id_typed",
        "actor",
        "ip_address",
        "user_agent",
        "details_shown",
    ]
    readonly_fields = fields

    @admin.display(description=_("details"))
    def details_shown(self, event):
        return (
            format_html_join(
                mark_safe("<br>"),
                "{}",
                ((line,) for line in support.details_in_words(event)),
            )
            or "—"
        )

    def get_search_results(self, request, queryset, search_term):
        # By member ID or address only, each found exactly: ten words of anything matched
        # against every entry of the log took 6 s at 200,000 entries, and eight such searches
        # at once held every app server's threads (helper-113).
        if not search_term.strip():
            return queryset, False
        member_id = credentials.normalise_member_id(search_term)
        if credentials.is_member_id(member_id):
            return queryset.filter(
                Q(member__member_id=member_id) | Q(member_id_typed=member_id)
            ), False
        # Typed any width (１２７.０.０.１), as a member ID may be; or a network, as the
        # lockouts list shows an IPv6 client's (2001:db8:1:2::/64).
        network = asked_network(search_term)
        if network is None and "/" in search_term:
            _no_such_network(request, search_term)
            return queryset.none(), False
        if network is None:
            messages.warning(
                request,
                _(
                    "Search the security log by a whole member ID (such as JPN1234567), an "
                    "IP address or a network (such as 2001:db8:1:2::/64): nothing was "
                    "searched."
                ),
            )
            return queryset.none(), False
        return queryset.filter(records_in(network)), False

    def get_queryset(self, request):
        # Staff accounts' own entries (their sign-ins, and failures typed with their IDs) are
        # for superusers; entries about members stay, whoever did them.
        queryset = super().get_queryset(request)
        if support.hides_staff(request.user):
            staff_ids = support.staff_accounts().values("member_id")
            queryset = (
                queryset.exclude(member__in=support.staff_accounts())
                .exclude(member_id_typed__in=staff_ids)
                # About no member but the staff account that did it (a refused admin filter).
                .exclude(member=None, actor__in=support.staff_accounts())
            )
        return queryset

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


# The mail queue holds what each email is about to say (names, addresses, requests typed on
# the forgot page): nothing support needs, and nothing to read outside the security log.
admin.site.unregister(DBTaskResult)


admin.site.unregister(Group)


@admin.register(Group)
class StaffGroupAdmin(OnlyWhatAdminShows, GroupAdmin):
    """Django's groups page; each change to a team's name or permissions is in the security
    log, with the superuser who made it."""

    def save_related(self, request, form, formsets, change):
        group = form.instance
        # Its name as the page opened with it, its permissions as stored until the next line.
        before = (form.initial["name"], support.permission_names(group)) if change else None
        super().save_related(request, form, formsets, change)
        support.staff_group_changed(request, group, before=before)

    def delete_model(self, request, obj):
        support.staff_group_deleted(request, obj)
        super().delete_model(request, obj)

    def delete_queryset(self, request, queryset):
        for group in queryset:
            support.staff_group_deleted(request, group)
        super().delete_queryset(request, queryset)


# django-axes registers these; ours are the same pages without the failed request's form
# data (AccessAttempt.get_data and post_data hold its CSRF token and the ID typed): never
# shown, even for rows stored before axes was told to keep none.
admin.site.unregister([AccessAttempt, AccessLog, AccessFailureLog])


class PausedFilter(admin.SimpleListFilter):
    """Rows whose ID or address is paused now (lockout.paused_now: what the list's status
    column reads from each row's totals, lockout.with_totals)."""

    title = _("pause status")  # "By pause status" in the sidebar; "By paused" read oddly
    parameter_name = "paused"

    def lookups(self, request, model_admin):
        return [("yes", _("Yes")), ("no", _("No"))]

    def queryset(self, request, queryset):
        paused = lockout.paused_now()
        if self.value() == "yes":
            return queryset.filter(paused)
        if self.value() == "no":
            return queryset.exclude(paused)
        if self.value() is not None:
            # As admin's own filters answer a value they do not know: back to the whole
            # list (?e=1), not every row under a filter that looks applied.
            raise IncorrectLookupParameters
        return queryset


class TotalsForThePage(OnlyShownChangeList):
    """The lockouts list, each row of the page shown with its totals (lockout.with_totals):
    worked out in the query for every row, they were also worked out for every row a later
    page skips, 1-1.5 s for the last pages of 30,000 rows (helper-114)."""

    def get_results(self, request):
        super().get_results(request)
        shown = list(self.result_list)
        totals = lockout.with_totals(self.model.objects.filter(pk__in=[row.pk for row in shown]))
        with_totals = {row.pk: row for row in totals}
        self.result_list = [with_totals[row.pk] for row in shown if row.pk in with_totals]
        # Each row's member, where it names one the agent may open (not a staff account,
        # for support): its ID a link to the member's page (helper-160), in one query.
        members = self.model_admin.admin_site._registry[Member].get_queryset(request)
        typed = {row.username for row in self.result_list if row.username}
        pages = dict(members.filter(member_id__in=typed).values_list("member_id", "pk"))
        for row in self.result_list:
            row.member_pk = pages.get(row.username)


# The records the lockouts list's action names before it lifts (the rest are counted).
SHOWN_TO_CONFIRM = 100
# The records one lift may take (each a member's lift or a logged deletion: 2,000 take some
# seconds, where 30,000 took two minutes).
LIFTED_AT_MOST = 2000


def _no_such_network(request, search_term: str) -> None:
    """A search meant as a network that is none (1.2.3.4/33, a typo in the address), on the
    lockouts list or the security log: said so, rather than "0 records", which reads as
    nothing there (helpers 125, 130)."""
    messages.warning(
        request,
        _(
            "“%(search)s” is not an IP address or a network (such as "
            "2001:db8:1:2::/64 or 203.0.113.0/24): nothing was searched."
        )
        % {"search": search_term.strip()[:100]},
    )


# The lockouts list's columns an agent looks for first (when, which ID, whether it is
# paused), before the browser's long identifier, which on a phone pushed them off the screen
# (helper-131); axes' other columns keep their order after these.
LOCKOUT_COLUMNS_FIRST = ("attempt_time", "username", "status", "failures_since_start", "ip_address")


def _lockout_column(field: str) -> int:
    first = LOCKOUT_COLUMNS_FIRST
    return first.index(field) if field in first else len(first)


@admin.register(AccessAttempt)
class AccessAttemptAdmin(OnlyWhatAdminShows, axes.admin.AccessAttemptAdmin):
    fieldsets = [
        (
            None,
            {
                # Not axes' "expiration" (always empty: our pauses end by the cool-off) nor
                # the browser's HTTP Accept header: nothing an agent reads.
                "fields": [
                    "username",
                    "path_info",
                    "failures_since_start",
                    "attempt_time",
                    "user_agent",
                    "address",
                ]
            },
        ),
    ]
    readonly_fields = [
        field
        for field in axes.admin.AccessAttemptAdmin.readonly_fields
        if field not in HIDDEN_FIELDS
    ] + ["address"]
    list_display = [
        {"ip_address": "address", "username": "member_id"}.get(field, field)
        for field in sorted(axes.admin.AccessAttemptAdmin.list_display, key=_lockout_column)
    ]

    @admin.display(
        description=AccessAttempt._meta.get_field("username").verbose_name, ordering="username"
    )
    def member_id(self, attempt):
        member_pk = getattr(attempt, "member_pk", None)
        if member_pk is None:
            return attempt.username or self.get_empty_value_display()
        url = reverse("admin:accounts_member_change", args=[member_pk])
        return format_html('<a href="{}">{}</a>', url, attempt.username)

    @admin.display(
        description=AccessAttempt._meta.get_field("ip_address").verbose_name,
        ordering="ip_address",
    )
    def address(self, attempt):
        # An IPv6 client is counted by its network (addresses.network_of): shown as one.
        return shown_network(attempt.ip_address)

    # axes' status and "locked out" filter compared each row alone with the ID's limit: an
    # address's row read "paused" at 10 failures (an address pauses at 30, over all its
    # rows), and an ID tried from several addresses read "not paused" when it was.
    list_filter = [
        f
        for f in axes.admin.AccessAttemptAdmin.list_filter
        if f is not axes.admin.IsLockedOutFilter
    ] + [PausedFilter]

    @admin.display(description=_("Status"))
    def status(self, attempt):
        # What decides each pause, added to the page's rows by TotalsForThePage.
        id_limit = settings.AXES_FAILURE_LIMIT
        address_limit = lockout.address_limit(attempt.ip_address)
        if not attempt.counted:
            minutes = int(settings.AXES_COOLOFF_TIME.total_seconds() // 60)
            return _("Not counted: older than %(minutes)s minutes.") % {"minutes": minutes}
        if attempt.id_paused:
            status = _("Paused: %(failures)s failures with this ID (pauses at %(limit)s).") % {
                "failures": attempt.id_failures,
                "limit": id_limit,
            }
        elif attempt.address_paused:
            status = _("Paused: %(failures)s failures from this address (pauses at %(limit)s).") % {
                "failures": attempt.address_failures,
                "limit": address_limit,
            }
        elif attempt.username:
            status = _(
                "Not paused: %(id)s of %(id_limit)s failures with this ID, %(address)s of "
                "%(address_limit)s from this address."
            ) % {
                "id": attempt.id_failures,
                "id_limit": id_limit,
                "address": attempt.address_failures,
                "address_limit": address_limit,
            }
        else:
            # What such a row counts is said once, above the list (change_list.html).
            status = _(
                "Not paused: %(address)s of %(address_limit)s failures from this address."
            ) % {"address": attempt.address_failures, "address_limit": address_limit}
        if not is_shared(attempt.ip_address):
            return status
        shared = _(
            "The address is a shared one (JENCO_SHARED_ADDRESSES: an office, an event): it "
            "pauses at %(limit)s failures, not %(usual)s; each ID still pauses at %(id_limit)s."
        ) % {
            "limit": address_limit,
            "usual": settings.JENCO_LOCKOUT_ADDRESS_FAILURES,
            "id_limit": id_limit,
        }
        return f"{status} {shared}"

    # axes' "Clean up expired attempts" fails on a request it did not prepare (500), and it
    # would delete across the whole table, staff accounts' rows too, whatever the list
    # showed: `manage.py housekeeping` removes expired attempts. Django's "Delete selected"
    # lifted pauses without a word in the member's activity or the security log: lifting is
    # its own action, and a row's Delete button does the same (support.lift_pauses).
    actions = ["lift_pauses"]

    def get_actions(self, request, action_location=ActionLocation.CHANGE_LIST):
        actions = super().get_actions(request, action_location)
        actions.pop("delete_selected", None)
        return actions

    @admin.action(description=_("Lift the selected pauses"), permissions=["delete"])
    def lift_pauses(self, request, queryset):
        count = queryset.count()
        if count > LIFTED_AT_MOST:
            # "Select all" over 30,000 rows held an app server's thread for two minutes, past
            # nginx's 60 s: the agent got the busy page and never learnt what was done
            # (helper-113). A list narrowed first (an ID, an address, "paused") is short.
            self.message_user(
                request,
                _(
                    "At most %(most)d records can be lifted at once, and %(count)d were "
                    "selected: nothing was lifted. Narrow the list first (search for a member "
                    "ID or an address, or filter by paused)."
                )
                % {"most": LIFTED_AT_MOST, "count": count},
                messages.ERROR,
            )
            return None
        # Asked first, as a row's own Lift button and Django's "Delete selected" ask: a
        # member's row lifts every pause on the member, their PIN lock too.
        if request.POST.get("post") != "yes":
            records = list(queryset[:SHOWN_TO_CONFIRM])
            return TemplateResponse(
                request,
                "admin/axes/accessattempt/lift_pauses_confirmation.html",
                {
                    **self.admin_site.each_context(request),
                    "title": _("Lift the selected pauses"),
                    "opts": self.model._meta,
                    "media": self.media,  # Django's page writes it with the CSP nonce
                    "count": count,
                    "records": records,
                    "more": count - len(records),
                    # "Select all" across the list: sent back as that, not as every row's
                    # key (over 1,000 fields a post is refused: DATA_UPLOAD_MAX_NUMBER_FIELDS).
                    "select_across": request.POST.get("select_across") == "1",
                    "selected": request.POST.getlist(helpers.ACTION_CHECKBOX_NAME),
                    "members": [
                        (member, support.pauses_in_words(member, pauses))
                        for member, pauses in support.pauses_to_lift(queryset)
                    ],
                    "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
                },
            )
        self._say_lifted(request, *support.lift_pauses(request, queryset, actor=request.user))
        return None

    def delete_model(self, request, obj):
        # Said by response_delete, which admin calls next with the same request.
        request.jenco_lifted = support.lift_pauses(request, [obj], actor=request.user)

    def delete_view(self, request, object_id, extra_context=None):
        extra_context = {"title": _("Lift the pause"), **(extra_context or {})}
        return super().delete_view(request, object_id, extra_context)

    def get_search_results(self, request, queryset, search_term):
        # "ｊｐｎ ７７７７７７７" finds JPN7777777, as the member list and the security log do.
        member_id = credentials.normalise_member_id(search_term)
        if credentials.is_member_id(member_id):
            return queryset.filter(username=member_id), False
        # An address finds what it is counted as (an IPv6 client's network: the address the
        # security log shows finds it), a wider network every record inside it.
        network = asked_network(search_term)
        if network is None and "/" in search_term:
            _no_such_network(request, search_term)
            return queryset.none(), False
        if network is None:
            return super().get_search_results(request, queryset, search_term)
        return queryset.filter(records_in(network, counted=True)), False

    def response_delete(self, request, obj_display, obj_id):
        # Back to the list, saying what was done: Django's "deleted", and admin's index for
        # an agent who may view and lift but not change the rows.
        self._say_lifted(request, *getattr(request, "jenco_lifted", (1, [])))
        return redirect("admin:axes_accessattempt_changelist")

    def _say_lifted(self, request, records: int, members) -> None:
        if not records:
            # Gone before this lift had them: another agent's lift a moment before (both
            # were told they cleared them: helper-114), or the member signed in.
            self.message_user(
                request,
                _(
                    "Nothing was lifted: the records picked were already gone (lifted a "
                    "moment ago by someone else, or cleared by a sign-in)."
                ),
                messages.WARNING,
            )
            return
        # Rows, not pauses: two rows may make one pause (an ID tried from two addresses), and
        # a row under its limit makes none.
        self.message_user(
            request,
            ngettext(
                "Cleared %(count)d failed sign-in record; any pause it made is lifted.",
                "Cleared %(count)d failed sign-in records; any pauses they made are lifted.",
                records,
            )
            % {"count": records},
            messages.SUCCESS,
        )
        # A member's row lifts every pause on the member, as their page's button does: each
        # such member named, with what was lifted.
        for member, lifted in members:
            _tell_lifted(self, request, member, lifted)

    def delete_queryset(self, request, queryset):
        support.lift_pauses(request, queryset, actor=request.user)

    def get_queryset(self, request):
        # A staff account's pause is lifted by a superuser only: deleting the row would give
        # whoever is guessing at it fresh tries.
        queryset = super().get_queryset(request)
        if support.hides_staff(request.user):
            queryset = queryset.exclude(
                username__in=support.staff_accounts().values("member_id")
            ).exclude(http_accept=sign_in_sql.LIFTED_STAFF)  # a staff account's, lifted
        return queryset

    def get_changelist(self, request, **kwargs):
        return TotalsForThePage


@admin.register(AccessLog)
class AccessLogAdmin(OnlyWhatAdminShows, axes.admin.AccessLogAdmin):
    pass


@admin.register(AccessFailureLog)
class AccessFailureLogAdmin(OnlyWhatAdminShows, axes.admin.AccessFailureLogAdmin):
    pass
