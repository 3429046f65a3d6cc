"""Deployment checks of our own, run by `manage.py check --deploy`."""

import ipaddress
from urllib.parse import urlsplit

from django.conf import settings
from django.core import checks
from django.http.request import validate_host
from django.utils.translation import gettext as _

IN_REQUEST_BACKENDS = {
    "django.tasks.backends.immediate.ImmediateBackend",
    "django.tasks.backends.dummy.DummyBackend",
}


@checks.register(checks.Tags.security, deploy=True)
def mail_leaves_through_a_queue(app_configs, **kwargs):
    if settings.TASKS["default"]["BACKEND"] not in IN_REQUEST_BACKENDS:
        return []
    return [
        checks.Warning(
            _(
                "Tasks run inside the request (or never): a forgot-password request that "
                "matches a member answers slower than one that doesn't, which tells an attacker "
                "the pair exists, and every request that sends mail waits for the mail server."
            ),
            hint=_(
                "Leave TASKS_BACKEND unset (django_tasks_db.DatabaseBackend) and run "
                "“manage.py db_worker”."
            ),
            id="jenco.W001",
        )
    ]


@checks.register(checks.Tags.mail, deploy=True)
def mail_leaves_for_real(app_configs, **kwargs):
    if settings.MAILERS["default"]["BACKEND"] != "accounts.mail.ReadableConsoleBackend":
        return []
    return [
        checks.Error(
            _("EMAIL_BACKEND is the development console: no member would get any mail."),
            hint=_("Set EMAIL_BACKEND to SMTP or a django-anymail provider (README, Email)."),
            id="jenco.E001",
        )
    ]


@checks.register(checks.Tags.security)
def lockout_counts_ids_and_addresses(app_configs, **kwargs):
    # accounts.lockout.LockoutHandler counts per ID and per address, each on its own.
    if settings.AXES_LOCKOUT_PARAMETERS == ["username", "ip_address"]:
        return []
    return [
        checks.Error(
            _("AXES_LOCKOUT_PARAMETERS must be [“username”, “ip_address”]."),
            id="jenco.E002",
        )
    ]


@checks.register(checks.Tags.security, deploy=True)
def default_credentials_have_an_end(app_configs, **kwargs):
    if settings.JENCO_DEFAULT_CREDENTIALS_UNTIL is not None:
        return []
    return [
        checks.Error(
            _(
                "JENCO_DEFAULT_CREDENTIALS_UNTIL is not set: the published JA default "
                "credentials would open every account still on them for ever."
            ),
            hint=_(
                "Set it to the date after which the defaults stop working, e.g. three months "
                "after members were told of the migration (README, Deploying)."
            ),
            id="jenco.E003",
        )
    ]


@checks.register(checks.Tags.security, deploy=True)
def registration_links_its_terms(app_configs, **kwargs):
    if not settings.JENCO_REGISTRATION_OPEN or settings.JENCO_TERMS_URL:
        return []
    return [
        checks.Warning(
            _(
                "Registration is open but JENCO_TERMS_URL is not set: members would agree to "
                "terms of use they cannot read."
            ),
            hint=_("Set JENCO_TERMS_URL to the published terms, or JENCO_REGISTRATION_OPEN=0."),
            id="jenco.W002",
        )
    ]


@checks.register(checks.Tags.security, deploy=True)
def members_can_reach_support(app_configs, **kwargs):
    if settings.JENCO_SUPPORT_EMAIL:
        return []
    return [
        checks.Warning(
            _(
                "JENCO_SUPPORT_EMAIL is not set: pages and mails tell members to contact "
                "JENCO Support (a lost phone, a lost mailbox) and show no way to."
            ),
            hint=_("Set JENCO_SUPPORT_EMAIL to the support desk's address."),
            id="jenco.W006",
        )
    ]


@checks.register(checks.Tags.security, deploy=True)
def posts_at_once_are_counted_across_processes(app_configs, **kwargs):
    if settings.REDIS_URL:
        return []
    return [
        checks.Warning(
            _(
                "REDIS_URL is not set: the sign-in posts being checked at this moment "
                "(accounts.checking) and each answered sign-in picture's claim are counted in "
                "each process's memory. With more than one app server process (gunicorn's "
                "default), wrong passwords sent at once get more checks than the lockout allows, "
                "and a pause may be in the security log once per process."
            ),
            hint=_(
                "Set REDIS_URL (make serve and deploy/ do). Without it only one app server "
                "with GUNICORN_WORKERS=1 (threads for the requests at once) counts them all, "
                "and this warning stays as a reminder."
            ),
            id="jenco.W003",
        )
    ]


@checks.register(checks.Tags.security, deploy=True)
def emailed_links_lead_to_the_site(app_configs, **kwargs):
    # Every emailed link (a password reset, a registration, an email change) starts with
    # SITE_URL, never with the request's host: unset, it is make run's address (helper-96).
    url = urlsplit(settings.SITE_URL)
    if url.scheme != "https":
        return [
            checks.Error(
                _(
                    "SITE_URL is %(url)s: the links in every email (password resets, "
                    "registrations, email changes) would lead there, their secret over plain "
                    "http. Unset, it is make run's http://127.0.0.1:8000."
                )
                % {"url": settings.SITE_URL},
                hint=_(
                    "Set SITE_URL to the site's https address, e.g. https://members.jenco.example."
                ),
                id="jenco.E004",
            )
        ]
    if not validate_host(url.hostname or "", settings.ALLOWED_HOSTS):
        return [
            checks.Error(
                _(
                    "SITE_URL's host %(host)s is not in ALLOWED_HOSTS: every emailed link "
                    "would lead to a page the site refuses (400)."
                )
                % {"host": url.hostname},
                hint=_("Add it to ALLOWED_HOSTS, or correct SITE_URL."),
                id="jenco.E005",
            )
        ]
    return []


@checks.register(checks.Tags.security, deploy=True)
def the_proxy_says_https(app_configs, **kwargs):
    if settings.SECURE_PROXY_SSL_HEADER or not settings.SECURE_SSL_REDIRECT:
        return []
    return [
        checks.Warning(
            _(
                "SECURE_PROXY_SSL_HEADER is not set: behind nginx on another machine the app "
                "sees plain http and every page redirects to itself, for ever (gunicorn "
                "believes nginx's X-Forwarded-Proto only from 127.0.0.1)."
            ),
            hint=_("Behind nginx (deploy/), set SECURE_PROXY_SSL_HEADER=1 (README, Deploying)."),
            id="jenco.W004",
        )
    ]


@checks.register(checks.Tags.security)
def no_one_is_shared_by_mistake(app_configs, **kwargs):
    # Behind a proxy the app does not count (JENCO_TRUSTED_PROXIES left at 0), every client
    # has the proxy's address: 127.0.0.1 with nginx on the same machine, a private one with a
    # proxy on the network. Listed as shared, it would raise every client's address limits.
    # Each entry is named as written and judged by the addresses the lockout counts it as
    # (::ffff:127.0.0.1 and the 6to4 forms of 127.0.0.1 are 127.0.0.1: helper-123).
    from accounts.addresses import counted_as

    prefix = settings.JENCO_IPV6_PREFIX
    listed = {
        entry: [ipaddress.ip_address(a) for a in counted_as(entry, prefix)]
        for entry in settings.JENCO_SHARED_ADDRESSES
    }

    def entries_counted_as(kind) -> list[str]:
        return [entry for entry, counted in listed.items() if any(map(kind, counted))]

    everyone = entries_counted_as(lambda a: a.is_loopback or a.is_unspecified)
    if everyone:
        return [
            checks.Error(
                _(
                    "JENCO_SHARED_ADDRESSES lists %(networks)s: the address every client has "
                    "behind a proxy whose X-Forwarded-For is not counted, so every client "
                    "would have a shared address's limits."
                )
                % {"networks": ", ".join(everyone)},
                hint=_(
                    "List the outside addresses of the offices or the event's network, as the "
                    "security log shows them (README, Security)."
                ),
                id="jenco.E006",
            )
        ]
    inside = entries_counted_as(lambda a: any(a in network for network in PRIVATE_NETWORKS))
    if not inside:
        return []
    return [
        checks.Warning(
            _(
                "JENCO_SHARED_ADDRESSES lists the private address %(address)s: a proxy's on "
                "your own network, if JENCO_TRUSTED_PROXIES does not count it, and then every "
                "client's."
            )
            % {"address": ", ".join(inside)},
            hint=_(
                "Members reach the site from outside: list the outside addresses of the "
                "offices or the event's network, as the security log shows them."
            ),
            id="jenco.W005",
        )
    ]


# Private networks, link-local and carrier-grade NAT: where a proxy in front could be.
PRIVATE_NETWORKS = [
    ipaddress.ip_network(network)
    for network in (
        "10.0.0.0/8",
        "172.16.0.0/12",
        "192.168.0.0/16",
        "100.64.0.0/10",
        "169.254.0.0/16",
        "fc00::/7",
        "fe80::/10",
    )
]
