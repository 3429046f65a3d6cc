"""The admin site in the support desk's order (helper-160): a call starts at a member, with
the security log beside it, then the lockouts; invoices after. Django orders apps and models
by name, which in Japanese put invoices first and the member list last."""

from django.contrib import admin
from django.contrib.admin.apps import AdminConfig

DESK_ORDER = [
    "accounts.member",
    "accounts.securityevent",
    "axes.accessattempt",
    "backoffice.invoice",
]


def _place(app_label: str, model: dict) -> int:
    name = f"{app_label}.{model['object_name'].lower()}"
    return DESK_ORDER.index(name) if name in DESK_ORDER else len(DESK_ORDER)


class JencoAdminSite(admin.AdminSite):
    site_header = "JENCO"
    site_title = "JENCO"

    def get_app_list(self, request, app_label=None):
        apps = super().get_app_list(request, app_label)
        for app in apps:  # sorted() is stable: the rest keep Django's order
            app["models"].sort(key=lambda model, label=app["app_label"]: _place(label, model))
        return sorted(
            apps,
            key=lambda app: min(
                (_place(app["app_label"], model) for model in app["models"]),
                default=len(DESK_ORDER),
            ),
        )


class JencoAdminConfig(AdminConfig):
    default_site = "jenco.admin.JencoAdminSite"
