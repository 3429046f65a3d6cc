from django import forms
from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from accounts import credentials
from accounts.admin import OnlyWhatAdminShows
from accounts.flows import support
from accounts.models import Member
from backoffice.billing import format_yen
from backoffice.models import Invoice, Quote


class MemberIdField(forms.Field):
    """The member as staff know them: a member ID typed any way (ｊｐｎ １２３４５６７ works),
    not a list of every member."""

    widget = forms.TextInput(attrs={"maxlength": 40, "autocomplete": "off"})

    def to_python(self, value):
        if value in self.empty_values:
            return None
        member_id = credentials.normalise_member_id(str(value)[:40])
        if not credentials.is_member_id(member_id):
            raise forms.ValidationError(credentials.MEMBER_ID_FORMAT_ERROR)
        try:
            return Member.objects.get(member_id=member_id)
        except Member.DoesNotExist:
            raise forms.ValidationError(
                _("There is no member %(member_id)s."), params={"member_id": member_id}
            ) from None

    def prepare_value(self, value):
        return value.member_id if isinstance(value, Member) else value


class InvoiceForm(forms.ModelForm):
    member = MemberIdField(label=_("member ID"), help_text=_("For example JPN1234567."))

    class Meta:
        model = Invoice
        fields = ["member", "number", "issued", "due", "amount_yen", "status"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk and not self.is_bound:
            self.initial["member"] = self.instance.member.member_id


@admin.register(Invoice)
class InvoiceAdmin(OnlyWhatAdminShows, admin.ModelAdmin):
    """Staff with the change permission create and correct invoices; Support views them."""

    form = InvoiceForm
    list_display = ["number", "of_member", "issued", "due", "amount", "status"]
    list_filter = ["status"]
    search_fields = ["number", "member__member_id"]
    list_select_related = ["member"]
    ordering = ["-issued", "-number"]
    readonly_fields = ["created", "updated"]
    fields = ["member", "number", "issued", "due", "amount_yen", "status", "created", "updated"]
    show_full_result_count = False

    @admin.display(description=_("member ID"), ordering="member__member_id")
    def of_member(self, invoice):
        return invoice.member.member_id

    @admin.display(description=_("amount (yen)"), ordering="amount_yen")
    def amount(self, invoice):
        return format_yen(invoice.amount_yen)

    def get_queryset(self, request):
        # Staff accounts are a superuser's to look up, their invoices too (helper-113).
        queryset = super().get_queryset(request)
        if support.hides_staff(request.user):
            queryset = queryset.exclude(member__in=support.staff_accounts())
        return queryset

    def get_search_results(self, request, queryset, search_term):
        # "jpn 1234567" or "ＪＰＮ１２３４５６７" find JPN1234567's invoices.
        member_id = credentials.normalise_member_id(search_term)
        if credentials.is_member_id(member_id):
            return queryset.filter(member__member_id=member_id), False
        return super().get_search_results(request, queryset, search_term)


@admin.register(Quote)
class QuoteAdmin(OnlyWhatAdminShows, admin.ModelAdmin):
    """The ticker's quotes: staff correct one by hand; the feed (load_quotes) replaces them."""

    list_display = ["symbol", "name", "last", "change", "percent", "as_of", "position"]
    list_editable = ["position"]
    search_fields = ["symbol", "name"]
    ordering = ["position", "symbol"]
