from django.contrib import admin
from django.urls import include, path

from accounts import views as accounts_views
from accounts.admin import sign_in_at_member_login

admin.site.site_header = "JENCO"
admin.site.site_title = "JENCO"

urlpatterns = [
    path("", include("accounts.urls")),
    path("backoffice/", include("backoffice.urls")),
    path("i18n/setlang/", accounts_views.set_language, name="set_language"),
    path("captcha/", include("captcha.urls")),
    # Before admin's own: staff sign in through the member sign-in, never admin's form.
    path("admin/login/", sign_in_at_member_login),
    path("admin/", admin.site.urls),
    path("healthz", accounts_views.healthz, name="healthz"),
    # Browsers ask for /favicon.ico on pages that name no icon (the admin's).
    path("favicon.ico", accounts_views.favicon),
]
