"""JENCO settings: one file, every value from the environment.

Each variable has a default that lets `make run` work on a fresh machine; a malformed value
stops start-up with a message that names the variable. `.env.example` lists them all.
"""

import datetime
import ipaddress
import os
import re
import secrets
import shutil
from pathlib import Path
from urllib.parse import urlsplit

import dj_database_url
from django.core.exceptions import ImproperlyConfigured, ValidationError
from django.core.validators import validate_email
from django.utils.csp import CSP
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent


def env(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def envbool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    if value.lower() in ("1", "true", "yes", "on"):
        return True
    if value.lower() in ("0", "false", "no", "off"):
        return False
    raise ImproperlyConfigured(f"{name} must be one of 1/0, true/false, yes/no, on/off: {value!r}")


def envint(name: str, default: int, minimum: int = 0, maximum: int | None = None) -> int:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    try:
        number = int(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a whole number: {value!r}") from None
    if number < minimum:
        raise ImproperlyConfigured(f"{name} must be at least {minimum}: {value!r}")
    if maximum is not None and number > maximum:
        raise ImproperlyConfigured(f"{name} must be at most {maximum}: {value!r}")
    return number


def envlist(name: str, default: list[str]) -> list[str]:
    value = os.environ.get(name)
    if value is None or value.strip() == "":
        return default
    items = [item.strip() for item in value.split(",") if item.strip()]
    if not items:
        raise ImproperlyConfigured(f"{name} must be a comma-separated list: {value!r}")
    return items


# IPv6 forms of IPv4 hosts (mapped, 6to4, Teredo, NAT64's well-known prefix), which the
# lockout counts as those hosts.
_IPV4_INSIDE_IPV6 = [
    ipaddress.ip_network(n) for n in ("::ffff:0:0/96", "2002::/16", "2001::/32", "64:ff9b::/96")
]


def envnetworks(name: str, *, ipv6_counted: int) -> list[str]:
    """Addresses or networks, comma-separated; each at most 256 of the addresses the lockout
    counts (an IPv4 /24, or 256 IPv6 networks of `ipv6_counted` bits): wider is no office."""
    shared = []
    for item in envlist(name, []):
        try:
            network = ipaddress.ip_network(item, strict=False)
        except ValueError:
            raise ImproperlyConfigured(
                f"{name} must list IP addresses or networks, comma-separated: {item!r}"
            ) from None
        if "/" in item and ipaddress.ip_address(item.split("/")[0]) != network.network_address:
            # "203.0.113.5/24", as `ip addr` shows an interface: all 256 addresses meant?
            raise ImproperlyConfigured(
                f"{name} lists an address with a prefix, {item!r}: write the network "
                f"({network}) or the address alone"
            )
        if network.version == 6 and any(network.subnet_of(n) for n in _IPV4_INSIDE_IPV6):
            raise ImproperlyConfigured(
                f"{name} lists {item!r}, an IPv4 address written as IPv6: write the IPv4 form"
            )
        counted_bits = 32 if network.version == 4 else ipv6_counted
        if counted_bits - network.prefixlen > 8:
            widest = "/24" if network.version == 4 else f"/{ipv6_counted - 8}"
            raise ImproperlyConfigured(f"{name} takes networks of {widest} at the widest: {item!r}")
        shared.append(str(network))
    return shared


def envdate(name: str) -> datetime.date | None:
    value = os.environ.get(name, "").strip()
    if not value:
        return None
    try:
        return datetime.date.fromisoformat(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a date like 2027-03-31: {value!r}") from None


DEBUG = envbool("DEBUG", False)


def _secret_key() -> str:
    key = env("SECRET_KEY")
    if key:
        return key
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off.")
    # Development only: generate once and keep it in a git-ignored file, so sessions and
    # reset links survive a restart of `make run`.
    path = BASE_DIR / ".secret_key"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(50))
        path.chmod(0o600)
    return path.read_text().strip()


SECRET_KEY = _secret_key()
# Keys a rotation replaced: sessions and emailed links signed with them still work.
SECRET_KEY_FALLBACKS = envlist("SECRET_KEY_FALLBACKS", [])
ALLOWED_HOSTS = envlist("ALLOWED_HOSTS", ["127.0.0.1", "localhost"] if DEBUG else [])
SITE_URL = env("SITE_URL", "http://127.0.0.1:8000").rstrip("/")
if not SITE_URL.startswith(("http://", "https://")):
    raise ImproperlyConfigured(f"SITE_URL must start with http:// or https://: {SITE_URL!r}")

INSTALLED_APPS = [
    "django_tasks_db",  # before accounts: accounts.admin takes the queue out of admin
    "accounts",
    "backoffice",
    "jenco.admin.JencoAdminConfig",  # django.contrib.admin, in the support desk's order
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "captcha",
    "axes",
    "django.forms",
]
# Widget templates (the captcha's) come from our templates/ folder too.
FORM_RENDERER = "django.forms.renderers.TemplatesSetting"

MIDDLEWARE = [
    # Sees every response last: the session and messages cookies deleted Secure and HttpOnly.
    "jenco.cookies.deleted_cookies_keep_their_flags",
    "jenco.head.head_as_get",  # a monitor's HEAD is a GET to everything below
    "jenco.redirects.short_redirects",  # whichever part redirects: nginx takes 16 KB of headers
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "jenco.form_charset.forms_in_utf8",  # before anything reads the form: a 400, not a 500
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # After the messages: a device whose sign-in was ended elsewhere is told so.
    "accounts.middleware.ended_elsewhere",
    "accounts.middleware.session_lifetime",
    # Before the gate and every view: a view-only (sub password) session is read-only.
    "accounts.view_only.ViewOnlyMiddleware",
    "backoffice.middleware.first_sign_in_gate",
    # After it: staff without two-step verification set it up before admin opens.
    "backoffice.middleware.staff_two_step_gate",
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "jenco.urls"
WSGI_APPLICATION = "jenco.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.csp",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "backoffice.context_processors.quotes",
                "backoffice.context_processors.support",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------------
try:
    DATABASES = {
        "default": dj_database_url.parse(
            env("DATABASE_URL", f"sqlite:///{BASE_DIR / 'db.sqlite3'}"),
            conn_max_age=envint("DATABASE_CONN_MAX_AGE", 60),
            conn_health_checks=True,
        )
    }
except ValueError as error:  # dj-database-url's own words (an unknown scheme, say)
    raise ImproperlyConfigured(
        f"DATABASE_URL must be like postgres://USER:PASSWORD@HOST:5432/NAME: {error}"
    ) from None
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # Django's, with a health check that looks at the socket instead of sending SELECT 1
    # (jenco/postgresql/base.py).
    DATABASES["default"]["ENGINE"] = "jenco.postgresql"
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets readers work beside the writer; IMMEDIATE takes the write lock at the start of
    # a transaction, so two writers queue on the busy timeout instead of failing with
    # "database is locked" halfway through. Connections are kept between requests
    # (DATABASE_CONN_MAX_AGE), as on PostgreSQL: opening and closing one cost more CPU than
    # rendering the sign-in page (issue 13).
    DATABASES["default"]["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache, sessions ------------------------------------------------------------------------
# With REDIS_URL every app server shares one Redis: the cache, the throttles
# (accounts.throttle) and the sessions, which then cost no database write and survive an app
# server's restart (a Redis restart without persistence signs everyone out). Without it, the
# cache is each process's own and sessions (and throttles) live in the database. Lockout
# counters (django-axes) and captchas are always in the database; the posts checking a
# password at this moment (accounts.checking) are in Redis, or in each process's memory.
REDIS_URL = env("REDIS_URL")


def _check_redis_address(address: str) -> None:
    """One Redis address as redis-py takes it, or a message naming REDIS_URL (its scheme as
    typed, never the rest: a password may follow). Else only the first page that uses the
    cache found a port or database that is not a number (helper-117, helper-119)."""
    if not address.startswith(("redis://", "rediss://", "unix://")):
        raise ImproperlyConfigured(
            "REDIS_URL must start with redis://, rediss:// or unix://, not "
            f"{address.partition(':')[0][:12]!r}"
        )
    if address.startswith("unix://"):
        return
    try:
        parts = urlsplit(address)
        parts.port  # noqa: B018  (raises for one that is not a port)
    except ValueError:
        raise ImproperlyConfigured(
            "REDIS_URL must be like redis://HOST:6379/0, its port a number from 0 to 65535"
        ) from None
    database = parts.path.strip("/")
    if database and not (database.isascii() and database.isdigit()):
        raise ImproperlyConfigured(
            "REDIS_URL's database must be a number after the port (redis://HOST:6379/0)"
        )


# Django's Redis cache takes several addresses, the first the primary: each is checked.
for _address in filter(None, re.split(r"[;,]", REDIS_URL or "")):
    _check_redis_address(_address.strip())
if REDIS_URL:
    CACHES = {"default": {"BACKEND": "jenco.redis_cache.RedisCache", "LOCATION": REDIS_URL}}
    SESSION_ENGINE = "accounts.cache_sessions"
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    # Django's database sessions, written once per change (a sign-in's inside its own
    # transaction) instead of up to three times.
    SESSION_ENGINE = "accounts.sessions"

# Idle timeout: the session ends this long after the member was last seen. "Last seen" is
# written at most every JENCO_SESSION_REFRESH_SECONDS (accounts.middleware), so a page view
# in between writes nothing, and the timeout may come up to that much early.
SESSION_COOKIE_AGE = envint("JENCO_SESSION_SECONDS", 60 * 60 * 12)
JENCO_SESSION_REFRESH_SECONDS = 5 * 60
# Absolute lifetime: however active, a sign-in ends this long after it began.
JENCO_SESSION_MAX_SECONDS = envint("JENCO_SESSION_MAX_SECONDS", 60 * 60 * 24 * 7)
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_HTTPONLY = True
CSRF_FAILURE_VIEW = "jenco.views.csrf_failure"
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = not DEBUG
LANGUAGE_COOKIE_SECURE = not DEBUG
LANGUAGE_COOKIE_HTTPONLY = True
LANGUAGE_COOKIE_SAMESITE = "Lax"

# --- Authentication -------------------------------------------------------------------------
AUTH_USER_MODEL = "accounts.Member"
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",  # first: refuses a locked-out ID or address
    "accounts.backends.MemberBackend",
]
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "backoffice:dashboard"
LOGOUT_REDIRECT_URL = "accounts:login"
# The page an emailed email-change link opens (it takes the link's token). accounts mails the
# link; the page is the signed-in area's, so accounts learns its name from here.
JENCO_EMAIL_CHANGE_CONFIRM_URL = "backoffice:profile-email-confirm"

PASSWORD_HASHERS = [
    "accounts.hashers.MemberArgon2Hasher",
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "accounts.credentials.NotThePublishedDefault"},
    {
        "NAME": "accounts.credentials.NotLikeTheAccount",
        "OPTIONS": {"user_attributes": ("member_id", "name", "email")},
    },
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 8},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# --- JENCO product settings -----------------------------------------------------------------
# The published credentials of accounts migrated from JA (seed page 1).
JENCO_DEFAULT_PASSWORDS = envlist("JENCO_DEFAULT_PASSWORDS", ["jenco@12345", "Jenco@12345"])
JENCO_DEFAULT_PIN = env("JENCO_DEFAULT_PIN", "123123")
# After this date default credentials no longer sign anyone in.
JENCO_DEFAULT_CREDENTIALS_UNTIL = envdate("JENCO_DEFAULT_CREDENTIALS_UNTIL")
JENCO_RESET_LINK_MINUTES = envint("JENCO_RESET_LINK_MINUTES", 60)
# Wrong PINs in a row before PIN-confirmed changes lock, and for how long.
JENCO_PIN_ATTEMPTS = envint("JENCO_PIN_ATTEMPTS", 5, minimum=1)
JENCO_PIN_LOCK_MINUTES = envint("JENCO_PIN_LOCK_MINUTES", 15)
PASSWORD_RESET_TIMEOUT = JENCO_RESET_LINK_MINUTES * 60
# Reset emails one member can receive in an hour, and forgot-password requests one address
# can make in an hour (over either, the answer looks the same and nothing is sent).
JENCO_RESET_EMAILS_PER_HOUR = envint("JENCO_RESET_EMAILS_PER_HOUR", 3)
JENCO_FORGOT_PER_ADDRESS = envint("JENCO_FORGOT_PER_ADDRESS", 20)
# How long security events are kept (manage.py housekeeping deletes older ones).
JENCO_SECURITY_LOG_DAYS = envint("JENCO_SECURITY_LOG_DAYS", 400)
# How long the link that confirms a new email address works.
JENCO_EMAIL_CHANGE_HOURS = envint("JENCO_EMAIL_CHANGE_HOURS", 24)
# The code mailed after a sign-in on the default credentials (accounts.flows.mailbox): how long it
# works, how many wrong tries it takes, and how often a member may have one sent.
JENCO_MAILBOX_CODE_MINUTES = envint("JENCO_MAILBOX_CODE_MINUTES", 10, minimum=1)
JENCO_MAILBOX_CODE_TRIES = envint("JENCO_MAILBOX_CODE_TRIES", 5, minimum=1)
JENCO_MAILBOX_CODES_PER_HOUR = envint("JENCO_MAILBOX_CODES_PER_HOUR", 5, minimum=1)
JENCO_MAILBOX_RESEND_SECONDS = envint("JENCO_MAILBOX_RESEND_SECONDS", 60)
# However many sessions ask (someone else signed in on the defaults too), a member's mailbox
# gets at most this many codes an hour.
JENCO_MAILBOX_CODES_PER_MEMBER_HOUR = envint("JENCO_MAILBOX_CODES_PER_MEMBER_HOUR", 20, minimum=1)
# Notices (a view-only sign-in, a changed password, a passkey added, ...) one member is mailed
# an hour; past it they are not sent, each still in the member's Activity (accounts.emails).
JENCO_NOTICES_PER_MEMBER_HOUR = envint("JENCO_NOTICES_PER_MEMBER_HOUR", 10, minimum=1)
# Sign-ins to one account an hour each way (password, passkey, view only: counted apart);
# the next waits until the oldest is an hour old (accounts.flows.sign_in.TooManySignIns).
# Each keeps a security-log entry for 400 days and a session: a client signing in to its own
# account with a passkey wrote both as fast as it could ask.
JENCO_SIGN_INS_PER_MEMBER_HOUR = envint("JENCO_SIGN_INS_PER_MEMBER_HOUR", 30, minimum=1)
# And at most this many wrong codes are checked for a member in an hour, across all sessions:
# without it, 20 codes of 5 tries each gave whoever typed the published password 100 guesses
# an hour at each member still on the defaults.
JENCO_MAILBOX_WRONG_CODES_PER_MEMBER_HOUR = envint(
    "JENCO_MAILBOX_WRONG_CODES_PER_MEMBER_HOUR", 10, minimum=1
)

# Email changes a member may ask for (each mails a link to the new address): per hour and per
# day; and links any one address may receive in a day, whichever members ask (issue 12).
JENCO_EMAIL_CHANGE_PER_HOUR = envint("JENCO_EMAIL_CHANGE_PER_HOUR", 3, minimum=1)
JENCO_EMAIL_CHANGE_PER_DAY = envint("JENCO_EMAIL_CHANGE_PER_DAY", 10, minimum=1)
JENCO_EMAIL_CHANGE_PER_ADDRESS = envint("JENCO_EMAIL_CHANGE_PER_ADDRESS", 3, minimum=1)

# Registration at /register/ (accounts.flows.registration): whether it is open (closed: the
# page says so, the sign-in page shows no link, posts and verification links are refused),
# how long an unverified registration and its link last (housekeeping deletes it then), how
# many registrations one address may send in an hour, and how many registration emails one
# mailbox receives in a day, whoever asks.
JENCO_REGISTRATION_OPEN = envbool("JENCO_REGISTRATION_OPEN", True)
JENCO_REGISTRATION_HOURS = envint("JENCO_REGISTRATION_HOURS", 24, minimum=1)
JENCO_REGISTRATION_PER_ADDRESS = envint("JENCO_REGISTRATION_PER_ADDRESS", 10, minimum=1)
JENCO_REGISTRATION_PER_EMAIL = envint("JENCO_REGISTRATION_PER_EMAIL", 3, minimum=1)
# Where the terms of use a registering member agrees to are published (linked beside the
# checkbox); `manage.py check --deploy` warns while registration is open without it.
JENCO_TERMS_URL = env("JENCO_TERMS_URL", "")
# Where members reach JENCO Support (pages and mails tell them to when a lost phone, a lost
# mailbox or a pause needs a person): shown in every page's footer and every mail's;
# `manage.py check --deploy` warns without it.
JENCO_SUPPORT_EMAIL = env("JENCO_SUPPORT_EMAIL", "")
if JENCO_SUPPORT_EMAIL:
    try:
        validate_email(JENCO_SUPPORT_EMAIL)
    except ValidationError:
        raise ImproperlyConfigured(
            f"JENCO_SUPPORT_EMAIL must be an email address alone: {JENCO_SUPPORT_EMAIL!r}"
        ) from None
# How far back a member's own activity goes under Account > Security.
JENCO_ACTIVITY_DAYS = envint("JENCO_ACTIVITY_DAYS", 90, minimum=1)
# Two-step verification (Account > Security): staff need it before admin opens (on unless
# DEBUG); wrong codes before a pause, and its length; how long a sign-in waits for its code.
JENCO_STAFF_TWO_STEP = envbool("JENCO_STAFF_TWO_STEP", not DEBUG)
JENCO_TWO_STEP_ATTEMPTS = envint("JENCO_TWO_STEP_ATTEMPTS", 5, minimum=1)
JENCO_TWO_STEP_PAUSE_MINUTES = envint("JENCO_TWO_STEP_PAUSE_MINUTES", 15, minimum=1)
JENCO_TWO_STEP_PENDING_MINUTES = envint("JENCO_TWO_STEP_PENDING_MINUTES", 10, minimum=1)
# A session nobody is signed in to (an emailed link's token on its way to the form, a sign-in
# waiting for its second step) lives this long, not SESSION_COOKIE_AGE: every cookieless
# opening of a link that still works starts one (accounts.sessions, helper-134). As long as a
# reset link works: a reset form left open past its session said the link could not be used
# (helper-135).
JENCO_SIGNED_OUT_SESSION_SECONDS = 60 * max(
    30, JENCO_TWO_STEP_PENDING_MINUTES, JENCO_RESET_LINK_MINUTES
)

# --- Brute-force lockout (django-axes, in the database: shared by every app server) ---------
# N failures for one member ID (from anywhere), or M from one address (against any IDs), lock
# that ID or address for the cool-off time. A wrong or missing captcha, and a sign-in on the
# published default password, count against the address alone (accounts.lockout).
AXES_HANDLER = "accounts.lockout.LockoutHandler"
AXES_FAILURE_LIMIT = envint("JENCO_LOCKOUT_FAILURES", 10, minimum=1)
JENCO_LOCKOUT_ADDRESS_FAILURES = envint("JENCO_LOCKOUT_ADDRESS_FAILURES", 30, minimum=1)
AXES_COOLOFF_TIME = datetime.timedelta(minutes=envint("JENCO_LOCKOUT_MINUTES", 15))
# A wrong password's error says how many failures are left once this few are (or fewer).
JENCO_LOCKOUT_WARN_AT = 3
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_USERNAME_CALLABLE = "accounts.lockout.typed_member_id"
# The address counted: an IPv6 client's network, not its address (accounts.addresses).
AXES_CLIENT_IP_CALLABLE = "accounts.addresses.client_network"
# How many proxies (nginx, a load balancer) stand in front and append X-Forwarded-For; 0 when
# clients connect to the app server directly. The client address is read accordingly.
JENCO_TRUSTED_PROXIES = envint("JENCO_TRUSTED_PROXIES", 0)
# An IPv6 client is counted by its network, this many leading bits (a /64 is what one home
# line or phone is given; 56 or 48 where providers hand out more): the lockout's and the
# throttles' per-address limits. The security log keeps each address whole.
JENCO_IPV6_PREFIX = envint("JENCO_IPV6_PREFIX", 64, minimum=32, maximum=128)


# Addresses many members share on purpose: JENCO's own offices, a migration event's network.
# Each per-address limit (the lockout's, the hourly ones) is this many times higher for them,
# so a help desk signing in member after member, and its agents, are not paused; every
# member ID's own limit stays as it is.
JENCO_SHARED_ADDRESSES = envnetworks("JENCO_SHARED_ADDRESSES", ipv6_counted=JENCO_IPV6_PREFIX)
JENCO_SHARED_ADDRESS_TIMES = envint("JENCO_SHARED_ADDRESS_TIMES", 10, minimum=2)
AXES_LOCKOUT_CALLABLE = "accounts.lockout.locked_out"
# axes would clear the address's failures too on any success; accounts.lockout clears only
# the ID's, so one working account does not reset a credential-stuffing address.
AXES_RESET_ON_SUCCESS = False
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False  # the wait the page names stays true
AXES_DISABLE_ACCESS_LOG = True  # sign-ins are in our security log already
# accounts.lockout.LockoutHandler writes a count and a time per ID and address, never a
# request's GET or POST data (CSRF tokens), no failure log and no expiry rows: keep these off.
AXES_ENABLE_ACCESS_FAILURE_LOG = False
AXES_USE_ATTEMPT_EXPIRATION = False
AXES_SENSITIVE_PARAMETERS = ["password", "captcha_1", "pin", "new_password1", "new_password2"]
AXES_VERBOSE = False

# --- Captcha: four digits, as on the seed's screens -----------------------------------------
# The ticker marks a quote older than this as delayed.
JENCO_QUOTE_STALE_MINUTES = envint("JENCO_QUOTE_STALE_MINUTES", 30, minimum=1)

CAPTCHA_CHALLENGE_FUNCT = "accounts.captcha.four_digits"
CAPTCHA_LENGTH = 4
CAPTCHA_TIMEOUT = envint("JENCO_CAPTCHA_MINUTES", 10)
CAPTCHA_FONT_SIZE = 30
CAPTCHA_IMAGE_SIZE = (110, 44)
CAPTCHA_LETTER_ROTATION = (-20, 20)
CAPTCHA_NOISE_FUNCTIONS = ("captcha.helpers.noise_dots",)


def _flite() -> str | None:
    """The captcha's digits spoken (a link beside the picture) by Debian's flite, where it is
    installed; without it there is no link. CAPTCHA_FLITE_PATH names another program, `off`
    turns it off; a name that is no program stops start-up (every recording would be a 500)."""
    value = env("CAPTCHA_FLITE_PATH").strip()
    if value in ("", "off"):
        return shutil.which("flite") if value == "" else None
    if shutil.which(value) is None:
        raise ImproperlyConfigured(
            f"CAPTCHA_FLITE_PATH must name the flite program, or be off: {value!r} is not one"
        )
    return shutil.which(value)


CAPTCHA_FLITE_PATH = _flite()

# --- Email ----------------------------------------------------------------------------------
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", "JENCO <no-reply@jenco.example>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
EMAIL_BACKEND_PATH = env(
    "EMAIL_BACKEND",
    # Development prints mail readably on the terminal; production must name a real backend
    # (`check --deploy` refuses the console).
    "accounts.mail.ReadableConsoleBackend"
    if DEBUG
    else "django.core.mail.backends.console.EmailBackend",
)
_mail_options: dict = {}
if EMAIL_BACKEND_PATH.endswith(("filebased.EmailBackend", "accounts.mail.FileBackend")):
    _mail_options["file_path"] = env("EMAIL_FILE_PATH", str(BASE_DIR / "var" / "mail"))
elif EMAIL_BACKEND_PATH.endswith("smtp.EmailBackend"):
    # STARTTLS on 587 (EMAIL_USE_TLS, the default), or TLS from the start on 465
    # (EMAIL_USE_SSL), for a relay that takes only that.
    _use_ssl = envbool("EMAIL_USE_SSL", False)
    _use_tls = envbool("EMAIL_USE_TLS", not _use_ssl)
    if _use_ssl and _use_tls:
        raise ImproperlyConfigured("EMAIL_USE_SSL=1 and EMAIL_USE_TLS=1: set one of them")
    _mail_options |= {
        "host": env("EMAIL_HOST", "localhost"),
        "port": envint("EMAIL_PORT", 465 if _use_ssl else 587),
        "username": env("EMAIL_HOST_USER"),
        "password": env("EMAIL_HOST_PASSWORD"),
        "use_tls": _use_tls,
        "use_ssl": _use_ssl,
        "timeout": envint("EMAIL_TIMEOUT", 20),
    }
MAILERS = {"default": {"BACKEND": EMAIL_BACKEND_PATH, "OPTIONS": _mail_options}}
# django-anymail reads its provider credentials from ANYMAIL_* variables.
ANYMAIL = {
    key.removeprefix("ANYMAIL_"): value
    for key, value in os.environ.items()
    if key.startswith("ANYMAIL_")
}

# Mail leaves through a task. In production the task waits in the database for
# `manage.py db_worker`, so no request waits for a mail server, and a forgot-password request
# that matches a member costs no more than one that doesn't. In development it runs at once,
# inside the request, so `make run` prints mail without a worker.
TASKS = {
    "default": {
        "BACKEND": env(
            "TASKS_BACKEND",
            "django.tasks.backends.immediate.ImmediateBackend"
            if DEBUG
            else "django_tasks_db.DatabaseBackend",
        )
    }
}
# A task that fails in the worker (mail server down, provider 5xx, timeout) is tried again
# after JENCO_TASK_RETRY_SECONDS, then twice as long each time up to JENCO_TASK_RETRY_MAX_SECONDS,
# until JENCO_TASK_RETRY_HOURS after it was queued; then it stays failed in the table and is
# logged at ERROR (accounts.tasks).
JENCO_TASK_RETRY_SECONDS = envint("JENCO_TASK_RETRY_SECONDS", 60)
JENCO_TASK_RETRY_MAX_SECONDS = envint("JENCO_TASK_RETRY_MAX_SECONDS", 60 * 60)
JENCO_TASK_RETRY_HOURS = envint("JENCO_TASK_RETRY_HOURS", 24)
# A task still running after this long belongs to a worker that died (killed, machine lost):
# `manage.py housekeeping` puts it back in the queue. Keep it well above EMAIL_TIMEOUT.
JENCO_TASK_TIMEOUT_SECONDS = envint("JENCO_TASK_TIMEOUT_SECONDS", 10 * 60)
# How long housekeeping keeps finished task rows: done ones, and failed ones (to look into).
JENCO_TASK_DONE_DAYS = envint("JENCO_TASK_DONE_DAYS", 7)
JENCO_TASK_FAILED_DAYS = envint("JENCO_TASK_FAILED_DAYS", 90)

# --- Internationalisation -------------------------------------------------------------------
LANGUAGE_CODE = "ja"
LANGUAGES = [("ja", _("Japanese")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = env("TIME_ZONE", "Asia/Tokyo")
USE_I18N = True
FORMAT_MODULE_PATH = ["jenco.formats"]  # 2026年12月2日 22:14
USE_TZ = True

# --- Static files ---------------------------------------------------------------------------
STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = BASE_DIR / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}

# --- Security headers -----------------------------------------------------------------------
SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF, CSP.NONCE],
    "style-src": [CSP.SELF],
    "img-src": [CSP.SELF, "data:"],
    "form-action": [CSP.SELF],
    "frame-ancestors": [CSP.NONE],
    "base-uri": [CSP.NONE],
    "object-src": [CSP.NONE],
}
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
SECURE_SSL_REDIRECT = envbool("SECURE_SSL_REDIRECT", not DEBUG)
SECURE_HSTS_SECONDS = envint("SECURE_HSTS_SECONDS", 0 if DEBUG else 60 * 60 * 24 * 365)
SECURE_HSTS_INCLUDE_SUBDOMAINS = envbool("SECURE_HSTS_INCLUDE_SUBDOMAINS", True)
SECURE_HSTS_PRELOAD = envbool("SECURE_HSTS_PRELOAD", not DEBUG)
if envbool("SECURE_PROXY_SSL_HEADER", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]

# --- Logging: secrets never reach it (see accounts.audit) ------------------------------------
DEFAULT_EXCEPTION_REPORTER_FILTER = "jenco.reporting.SecretsFilter"
# Who gets Django's error reports by mail (comma-separated addresses); none by default.
ADMINS = envlist("ADMINS", [])
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "require_debug_false": {"()": "django.utils.log.RequireDebugFalse"},
        # Emailed links' tokens never reach a log line (django.request logs a 404's path,
        # django.server every request line under runserver).
        "redact_tokens": {"()": "jenco.logfilters.RedactTokens"},
        "no_traceback_for_refusals": {"()": "jenco.logfilters.NoTracebackForRefusals"},
    },
    "formatters": {
        # With the offset, as nginx and gunicorn stamp theirs: TIME_ZONE is Japan time.
        "plain": {
            "format": "%(asctime)s %(levelname)s %(name)s %(message)s",
            "datefmt": "%Y-%m-%d %H:%M:%S %z",
        },
        "django.server": {
            "()": "django.utils.log.ServerFormatter",
            "format": "[{server_time}] {message}",
            "style": "{",
        },
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "plain",
            "filters": ["redact_tokens"],
        },
        # Django's own handler for runserver's request lines, with the filter.
        "django.server": {
            "class": "logging.StreamHandler",
            "formatter": "django.server",
            "filters": ["redact_tokens"],
        },
        # Where a logger kept out of the log writes: with no handler at all, Python prints
        # the bare message and its traceback to stderr (logging.lastResort).
        "nowhere": {"class": "logging.NullHandler"},
        "mail_admins": {
            "level": "ERROR",
            "filters": ["require_debug_false", "redact_tokens"],
            "class": "django.utils.log.AdminEmailHandler",
        },
    },
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", "INFO")},
    "loggers": {
        # Printed once, by the root's handler (Django's own console handler would double it).
        "django": {"level": "INFO", "handlers": ["mail_admins"], "propagate": True},
        "django.server": {"level": "INFO", "handlers": ["django.server"], "propagate": False},
        # A 403 or 404 is one line, without the traceback of the exception that answered it.
        "django.request": {"filters": ["no_traceback_for_refusals"]},
        "django.db.backends": {"level": "WARNING"},
        # A line per queued email is noise on the app servers. The email worker (db_worker)
        # sets this level itself from its --verbosity: at the default 1, its log has a line
        # as each email's task starts and ends (the record of what was sent); -v0 silences it.
        "django.tasks": {"level": "WARNING"},
        # A request for a host not in ALLOWED_HOSTS (scanners, mostly) is answered 400 and
        # kept out of the log and the admins' mailbox (nginx's default server drops them first).
        "django.security.DisallowedHost": {"handlers": ["nowhere"], "propagate": False},
        # A list filter admin refuses (OnlyWhatAdminShows) is answered 400 and written to the
        # security log with the agent, and one jenco.security line: not an ERROR with a
        # 50-line traceback and a mail to the admins each time an agent tries one.
        "django.security.DisallowedModelAdminLookup": {
            "handlers": ["nowhere"],
            "propagate": False,
        },
        # The same for ?_to_field= naming a field no relation points at (?_to_field=password).
        "django.security.DisallowedModelAdminToField": {
            "handlers": ["nowhere"],
            "propagate": False,
        },
        # Requests refused 400 for their size (over 1,000 fields or files, or a body over
        # DATA_UPLOAD_MAX_MEMORY_SIZE), or for an address that, signed out, would make a
        # sign-in redirect over Django's 16,384 characters (DisallowedRedirect: a few KB of
        # characters that grow when re-encoded; helper-99): anyone can send one without
        # signing in, so they go the way of DisallowedHost (nginx's access log still has
        # each), not to the admins.
        **{
            f"django.security.{name}": {"handlers": ["nowhere"], "propagate": False}
            for name in (
                "TooManyFieldsSent",
                "TooManyFilesSent",
                "RequestDataTooBig",
                "DisallowedRedirect",
            )
        },
    },
}
