from django.contrib import admin
from django.http import Http404, HttpRequest, HttpResponse
from django.urls import include, path, re_path
from django.views.generic import RedirectView

from accounts import views as accounts_views
from accounts.admin import sign_in_at_member_login
from jenco import views


def no_admin_autocomplete(request: HttpRequest) -> HttpResponse:
    """No admin form uses autocomplete_fields, and Django's view answers some made-up field
    names (a reverse relation such as ?model_name=group&field_name=user) with a 500."""
    raise Http404


urlpatterns = [
    path("", include("accounts.urls")),
    path("backoffice/", include("backoffice.urls")),
    path("i18n/setlang/", views.set_language, name="set_language"),
    # Ahead of the library's routes: its refresh keys a new picture from `random` and the
    # clock, and its own picture and sound views, unmarked, would be refused to a view-only
    # session (accounts.views.captcha_image marks them).
    path("captcha/refresh/", accounts_views.captcha_refresh, name="captcha-refresh"),
    re_path(r"^captcha/image/(?P<key>\w+)/$", accounts_views.captcha_image, {"scale": 1}),
    re_path(r"^captcha/image/(?P<key>\w+)@2/$", accounts_views.captcha_image, {"scale": 2}),
    re_path(r"^captcha/audio/(?P<key>\w+)\.wav$", accounts_views.captcha_audio),
    path("captcha/", include("captcha.urls")),
    # Before admin's own: staff sign in through the member sign-in, never admin's form.
    path("admin/login/", sign_in_at_member_login),
    path("admin/autocomplete/", no_admin_autocomplete),
    # Staff change their password where members do: confirmed with the PIN (or the current
    # password), written to the security log and announced by email. Admin's own form is
    # none of these.
    path(
        "admin/password_change/",
        RedirectView.as_view(pattern_name="backoffice:profile-password"),
    ),
    path("admin/password_change/done/", RedirectView.as_view(pattern_name="backoffice:profile")),
    path("admin/", admin.site.urls),
    path("healthz", views.healthz, name="healthz"),
    # Browsers ask for /favicon.ico on pages that name no icon (the admin's).
    path("favicon.ico", views.favicon),
]
