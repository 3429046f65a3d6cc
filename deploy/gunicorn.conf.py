"""gunicorn, the production app server: `gunicorn -c deploy/gunicorn.conf.py`.

Settings come from the environment like the rest of the project: GUNICORN_BIND (default
127.0.0.1:8000, behind nginx), GUNICORN_THREADS (threads per process; default 1) and
GUNICORN_WORKERS (processes; by default one per core this process may use when it has
threads, which cover the waits on PostgreSQL and Redis, and two per core plus one for
single-threaded workers, gunicorn's advice). Django reads its own variables
(DJANGO_SETTINGS_MODULE, DATABASE_URL, REDIS_URL, ...) as usual.

The access log goes to standard output (journald keeps it) with the emailed links' tokens
redacted: a reset link in a log line is a way into the account for whoever reads it.
GUNICORN_ACCESS_LOG empty turns it off: behind nginx (deploy/jenco-web@.service), nginx's
access log has every request already, with the app server that answered and its time, and a
second line per request cost the app server 0.3-1 ms of CPU a sign-in (issue 13).
"""

import os
import sys
import time
from pathlib import Path

from gunicorn.glogging import Logger, SafeAtoms

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from jenco.logfilters import RedactTokens, redact  # noqa: E402


def _count(name: str, default: int) -> int:
    value = os.environ.get(name, "").strip()
    if not value:
        return default
    if not value.isdigit() or int(value) < 1:
        raise SystemExit(f"{name} must be a whole number of at least 1: {value!r}")
    return int(value)


def _access_log() -> str | None:
    """GUNICORN_ACCESS_LOG: `-` (standard output, the default), empty (none), or a file."""
    value = os.environ.get("GUNICORN_ACCESS_LOG", "-").strip()
    if value in ("-", ""):
        return value or None
    if not os.path.isabs(value):
        raise SystemExit(
            "GUNICORN_ACCESS_LOG must be - (standard output), empty (no access log) or an "
            f"absolute path: {value!r}"
        )
    return value


class RedactedAtoms(SafeAtoms):
    """The access log line's values, each redacted as the format reads it.

    Every atom counts, not only the format's own: the request line %(r)s, path %(U)s, query
    %(q)s, the referrer %(f)s (a page opened from a link) and any {header}i or {variable}e a
    format may name. Redacting when read costs the dozen atoms a line uses, not the hundred
    gunicorn builds (every header and environ variable) for each request.
    """

    def __getitem__(self, key):
        value = super().__getitem__(key)
        return redact(value) if isinstance(value, str) else value


class RedactingLogger(Logger):
    """gunicorn's logger, with emailed links' tokens out of the access and error logs."""

    atoms_wrapper_class = RedactedAtoms

    def setup(self, cfg):
        super().setup(cfg)
        # The error log names the URL of a request that failed.
        if not any(isinstance(f, RedactTokens) for f in self.error_log.filters):
            self.error_log.addFilter(RedactTokens())


# gunicorn stamps its own lines (the master's, the access log's) in the process's time zone,
# Django its log lines in TIME_ZONE, which it makes the worker's zone as it loads: the same
# zone from the start, so the log reads in one offset (Japan time unless TIME_ZONE says
# otherwise, as in jenco/settings.py).
os.environ["TZ"] = os.environ.get("TIME_ZONE") or "Asia/Tokyo"
time.tzset()

wsgi_app = "jenco.wsgi:application"
chdir = str(ROOT)
bind = [os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")]
threads = _count("GUNICORN_THREADS", 1)
_cores = len(os.sched_getaffinity(0))
workers = _count("GUNICORN_WORKERS", _cores if threads > 1 else 2 * _cores + 1)
# With threads, an idle connection from nginx is kept this long (nginx's upstream closes its
# own after 4 s, first, so it never sends on one this side has just closed).
keepalive = 5
# Any request line nginx passes on (16 KB, large_client_header_buffers in
# deploy/nginx/jenco.conf, over HTTP/1.1 and HTTP/2 alike): a mangled emailed link thousands
# of characters long gets the site's own answer, not gunicorn's bare "Request Line is too
# large" (its default stops at 4 KB, its highest limit at 8 KB). Only nginx reaches the app
# servers (README, Deploying).
limit_request_line = 0
# Headers likewise: gunicorn's own limits (8,190 bytes a header, 100 headers) answered a
# request nginx passed on (16 KB a header, 64 KB in all) with its 431 before the app saw it,
# and hung up on the body unread, which nginx counts as a failed app server (max_fails):
# posts with one 9 KB header put both out of service (helper-103). nginx bounds them.
# Over nginx's 16 KB a header, and over the one Cookie header nginx makes of an HTTP/2
# request's cookies (up to its 64 KB of headers; helper-104). 0 would mean gunicorn's 8,190.
limit_request_field_size = 131072
limit_request_fields = 32768  # gunicorn's highest; 64 KB of headers hold at most 16,384
logger_class = RedactingLogger
accesslog = _access_log()
errorlog = "-"
# Combined log format, and the time the request took in milliseconds.
access_log_format = '%(h)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s" %(M)sms'
# gunicornc's control socket has one path per user ($HOME/.gunicorn/gunicorn.ctl), which a
# second gunicorn on the machine would take over; systemd starts, reloads and stops ours.
control_socket_disable = True
