"""The security event log: one function writes it, staff read it in admin."""

import logging

from accounts.models import SecurityEvent

logger = logging.getLogger("jenco.security")

Kind = SecurityEvent.Kind


def client_ip(request) -> str | None:
    # Behind a proxy, the proxy is configured to set REMOTE_ADDR (gunicorn's
    # --forwarded-allow-ips); we never trust a header a client could write itself.
    return request.META.get("REMOTE_ADDR") or None


def request_origin(request) -> tuple[str | None, str]:
    if request is None:
        return None, ""
    return client_ip(request), request.headers.get("User-Agent", "")[:300]


def record(request, kind: str, member=None, *, member_id_typed: str = "", actor=None, origin=None):
    """Write one security event. Never pass a secret: there is no field for one.

    `origin` is a (ip, user_agent) pair for events written off the request (a task).
    """
    ip, user_agent = origin or request_origin(request)
    event = SecurityEvent.objects.create(
        kind=kind,
        member=member,
        member_id_typed=member_id_typed[:32] if member is None else "",
        actor=actor,
        ip_address=ip,
        user_agent=user_agent[:300],
    )
    logger.info(
        "%s member=%s ip=%s", kind, member or member_id_typed[:32] or "-", event.ip_address or "-"
    )
    return event
