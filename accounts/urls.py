from django.urls import path

from accounts import views

app_name = "accounts"

urlpatterns = [
    path("", views.home, name="home"),
    path("login/", views.login, name="login"),
    path("login/code/", views.login_code, name="login-code"),
    path("login/code/passkey/", views.login_code_passkey, name="login-code-passkey"),
    path("login/passkey/", views.login_passkey, name="login-passkey"),
    path("logout/", views.logout, name="logout"),
    path("password/forgot/", views.forgot_password, name="password-forgot"),
    path("password/forgot/sent/", views.forgot_password_sent, name="password-forgot-sent"),
    path(
        "password/reset/<uidb64>/<token>/", views.ResetPasswordView.as_view(), name="password-reset"
    ),
    path("password/reset/done/", views.reset_password_done, name="password-reset-done"),
    path("pin/forgot/", views.forgot_pin, name="pin-forgot"),
    path("pin/forgot/sent/", views.forgot_pin_sent, name="pin-forgot-sent"),
    path("pin/reset/<uidb64>/<token>/", views.ResetPinView.as_view(), name="pin-reset"),
    path("pin/reset/done/", views.reset_pin_done, name="pin-reset-done"),
    path("email/correct/<str:token>/", views.email_correction, name="email-correct"),
    path("register/", views.register, name="register"),
    path("register/sent/", views.register_sent, name="register-sent"),
    path("register/done/", views.register_done, name="register-done"),
    path("register/verify/<str:token>/", views.register_verify, name="register-verify"),
]
