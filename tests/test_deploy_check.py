"""Production settings pass Django's deployment checklist with no warning at all."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

PRODUCTION = {
    "DEBUG": "0",
    "SECRET_KEY": "a-real-production-secret-" + "k" * 50 + "-with-entropy-9f8e7d6c5b4a",
    "ALLOWED_HOSTS": "members.jenco.example",
    "SITE_URL": "https://members.jenco.example",
    "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
    "EMAIL_HOST": "smtp.jenco.example",
    "JENCO_DEFAULT_CREDENTIALS_UNTIL": "2027-03-31",
    "JENCO_TERMS_URL": "https://www.jenco.example/terms/",
    "JENCO_SUPPORT_EMAIL": "support@jenco.example",
    "REDIS_URL": "redis://127.0.0.1:6379/0",  # named, not reached: the checks connect to nothing
    "SECURE_PROXY_SSL_HEADER": "1",
}


def manage(*args, **env):
    # The browser tests set DJANGO_ALLOW_ASYNC_UNSAFE in this process; production would not.
    skip = {*PRODUCTION, "DJANGO_ALLOW_ASYNC_UNSAFE"}
    base = {k: v for k, v in os.environ.items() if k not in skip}
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**base, "DJANGO_SETTINGS_MODULE": "jenco.settings", **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_check_deploy_passes_with_zero_warnings():
    result = manage("check", "--deploy", "--fail-level", "WARNING", **PRODUCTION)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def deploy_check_without(name: str):
    env = {k: v for k, v in PRODUCTION.items() if k != name}
    return manage("check", "--deploy", "--fail-level", "WARNING", **env)


def test_without_redis_it_warns_that_posts_sent_at_once_are_counted_per_process():
    result = deploy_check_without("REDIS_URL")
    assert result.returncode != 0
    assert "jenco.W003" in result.stderr and "GUNICORN_WORKERS=1" in result.stderr


def test_production_refuses_default_credentials_without_an_end():
    # The published defaults would otherwise open every unclaimed account for ever.
    env = {k: v for k, v in PRODUCTION.items() if k != "JENCO_DEFAULT_CREDENTIALS_UNTIL"}
    result = manage("check", "--deploy", **env)
    assert result.returncode != 0
    assert "jenco.E003" in result.stderr
    assert "JENCO_DEFAULT_CREDENTIALS_UNTIL" in result.stderr


def test_the_console_mailbox_is_refused_in_production():
    env = {**PRODUCTION, "EMAIL_BACKEND": "django.core.mail.backends.console.EmailBackend"}
    result = manage("check", "--deploy", **env)
    assert result.returncode != 0
    assert "mail.E001" in result.stderr


def test_the_development_console_is_refused_in_production_too():
    env = {**PRODUCTION, "EMAIL_BACKEND": "accounts.mail.ReadableConsoleBackend"}
    result = manage("check", "--deploy", **env)
    assert result.returncode != 0
    assert "jenco.E001" in result.stderr


def test_mail_sent_inside_the_request_is_refused_in_production():
    env = {**PRODUCTION, "TASKS_BACKEND": "django.tasks.backends.immediate.ImmediateBackend"}
    result = manage("check", "--deploy", "--fail-level", "WARNING", **env)
    assert result.returncode != 0
    assert "jenco.W001" in result.stderr


def test_emailed_links_must_lead_to_the_sites_https_address():
    # Unset, SITE_URL is make run's address, and every reset link mailed would lead there.
    unset = {k: v for k, v in PRODUCTION.items() if k != "SITE_URL"}
    for env in (unset, {**PRODUCTION, "SITE_URL": "http://members.jenco.example"}):
        result = manage("check", "--deploy", **env)
        assert result.returncode != 0
        assert "jenco.E004" in result.stderr and "SITE_URL" in result.stderr

    elsewhere = {**PRODUCTION, "SITE_URL": "https://members.jenco.example.jp"}
    result = manage("check", "--deploy", **elsewhere)
    assert result.returncode != 0
    assert "jenco.E005" in result.stderr and "members.jenco.example.jp" in result.stderr


def test_manage_py_in_a_checkout_runs_with_development_settings():
    result = manage("check")  # nothing set: a developer's shell
    assert result.returncode == 0, result.stderr


def test_the_app_server_defaults_to_production():
    env = {k: v for k, v in os.environ.items() if k not in {"DEBUG", "SECRET_KEY"}}
    result = subprocess.run(
        [sys.executable, "-c", "import jenco.wsgi"],
        cwd=ROOT,
        env={**env, "DJANGO_SETTINGS_MODULE": "jenco.settings"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0
    assert "SECRET_KEY must be set when DEBUG is off" in result.stderr


def test_production_refuses_to_start_without_a_secret_key():
    env = {**PRODUCTION, "SECRET_KEY": ""}
    result = manage("check", **env)
    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr


def test_a_negative_or_zero_limit_names_the_variable():
    result = manage("check", **{**PRODUCTION, "JENCO_LOCKOUT_ADDRESS_FAILURES": "0"})
    assert "JENCO_LOCKOUT_ADDRESS_FAILURES must be at least 1" in result.stderr
    result = manage("check", **{**PRODUCTION, "JENCO_TRUSTED_PROXIES": "-1"})
    assert "JENCO_TRUSTED_PROXIES must be at least 0" in result.stderr


def test_a_malformed_setting_names_the_variable():
    result = manage("check", **{**PRODUCTION, "JENCO_PIN_ATTEMPTS": "five"})
    assert result.returncode != 0
    assert "JENCO_PIN_ATTEMPTS must be a whole number" in result.stderr


def test_a_spoken_captcha_program_that_is_not_there_names_the_variable():
    result = manage("check", **{**PRODUCTION, "CAPTCHA_FLITE_PATH": "/nowhere/flite"})
    assert result.returncode != 0
    assert "CAPTCHA_FLITE_PATH must name the flite program, or be off" in result.stderr


def test_open_registration_without_published_terms_is_warned_about():
    env = {k: v for k, v in PRODUCTION.items() if k != "JENCO_TERMS_URL"}
    result = manage("check", "--deploy", "--fail-level", "WARNING", **env)
    assert result.returncode != 0
    assert "jenco.W002" in result.stderr and "JENCO_TERMS_URL" in result.stderr
    closed = manage(
        "check", "--deploy", "--fail-level", "WARNING", **env, JENCO_REGISTRATION_OPEN="0"
    )
    assert closed.returncode == 0, closed.stderr


class SmtpOverTls:
    """An SMTP relay that speaks TLS from the first byte (port 465's kind): takes one
    message and keeps what it was given."""

    def __init__(self, folder: Path):
        import socket
        import ssl
        import threading

        from tools.serve import self_signed_certificate

        self.cert, key = self_signed_certificate(folder)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.cert, key)
        listener = socket.create_server(("127.0.0.1", 0))
        self.port = listener.getsockname()[1]
        self.listener = context.wrap_socket(listener, server_side=True)
        self.received: list[str] = []
        self.thread = threading.Thread(target=self.serve_one, daemon=True)
        self.thread.start()

    def serve_one(self) -> None:
        connection, _ = self.listener.accept()
        with connection, connection.makefile("rb") as lines:

            def say(text: str) -> None:
                connection.sendall(text.encode() + b"\r\n")

            say("220 relay.example ESMTP")
            while line := lines.readline().decode():
                verb = line[:4].upper()
                if verb in ("EHLO", "HELO"):
                    say("250 relay.example")
                elif verb == "DATA":
                    say("354 go on")
                    message = []
                    while (line := lines.readline().decode()) != ".\r\n":
                        message.append(line)
                    self.received.append("".join(message))
                    say("250 queued")
                elif verb == "QUIT":
                    say("221 bye")
                    return
                else:
                    self.received.append(line)
                    say("250 ok")


def test_mail_goes_to_a_relay_that_takes_tls_from_the_start(tmp_path):
    # EMAIL_USE_SSL: some relays take only port 465 (helper-106: there was no way to say so).
    relay = SmtpOverTls(tmp_path)
    result = manage(
        "sendtestemail",
        "member@example.jp",
        **{
            **PRODUCTION,
            "EMAIL_HOST": "localhost",
            "EMAIL_PORT": str(relay.port),
            "EMAIL_USE_SSL": "1",
            "SSL_CERT_FILE": str(relay.cert),  # the relay's certificate, checked as any other
        },
    )
    relay.thread.join(10)
    assert result.returncode == 0, result.stderr
    assert "rcpt to:<member@example.jp>\r\n" in relay.received
    assert any("Subject: Test email from" in message for message in relay.received)


def test_tls_from_the_start_and_starttls_together_are_refused():
    result = manage("check", **{**PRODUCTION, "EMAIL_USE_SSL": "1", "EMAIL_USE_TLS": "1"})
    assert result.returncode != 0
    assert "EMAIL_USE_SSL=1 and EMAIL_USE_TLS=1: set one of them" in result.stderr


def test_without_the_proxys_https_header_it_warns_of_endless_redirects():
    # Behind nginx on another machine every page redirected to itself (helper-117).
    result = deploy_check_without("SECURE_PROXY_SSL_HEADER")
    assert result.returncode != 0
    assert "jenco.W004" in result.stderr and "SECURE_PROXY_SSL_HEADER=1" in result.stderr


def test_a_malformed_redis_or_database_address_is_named_without_a_traceback():
    # Each was found only by the first page that used it, or after 50 lines of traceback.
    for name, value, said in [
        ("REDIS_URL", "redis:/:pw@x", "REDIS_URL must start with redis://, rediss:// or unix://"),
        ("REDIS_URL", "redis://:pw@h:notaport/0", "REDIS_URL must be like redis://HOST:6379/0"),
        ("REDIS_URL", "redis://:pw@[::1:6379/0", "REDIS_URL must be like redis://HOST:6379/0"),
        ("REDIS_URL", "redis://:pw@h:6379/notadb", "REDIS_URL's database must be a number"),
        ("DATABASE_URL", "postgress://x", "DATABASE_URL must be like postgres://"),
        ("JENCO_PIN_ATTEMPTS", "five", "JENCO_PIN_ATTEMPTS must be a whole number"),
        (
            "JENCO_SUPPORT_EMAIL",
            "JENCO Support <support@>",
            "JENCO_SUPPORT_EMAIL must be an email address alone",
        ),
    ]:
        result = manage("check", **{**PRODUCTION, name: value})
        assert result.returncode != 0
        assert result.stderr.startswith(f"manage.py: {said}"), result.stderr
        assert "Traceback" not in result.stderr and "pw@" not in result.stderr


def test_manage_py_still_takes_another_settings_module():
    result = manage(
        "shell",
        "--settings=tests.settings",
        "-c",
        "from django.conf import settings; print(settings.SETTINGS_MODULE)",
    )
    assert result.stdout.strip().splitlines()[-1] == "tests.settings", result.stderr


def test_a_primary_and_its_replicas_are_one_redis_url():
    # Django's Redis cache takes several addresses, comma- or semicolon-separated.
    result = manage("check", **{**PRODUCTION, "REDIS_URL": "redis://a:6379/0,redis://b:6379/0"})
    assert result.returncode == 0, result.stderr


def test_production_without_a_support_address_is_warned_about():
    env = {k: v for k, v in PRODUCTION.items() if k != "JENCO_SUPPORT_EMAIL"}
    result = manage("check", "--deploy", "--fail-level", "WARNING", **env)
    assert result.returncode != 0
    assert "jenco.W006" in result.stderr and "JENCO_SUPPORT_EMAIL" in result.stderr
