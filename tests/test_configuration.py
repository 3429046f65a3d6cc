"""`.env.example` is the operator's list of settings: it must name every one we read."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_env_example_lists_every_variable_the_settings_read():
    settings_source = (ROOT / "jenco" / "settings.py").read_text()
    read = set(
        re.findall(r"\benv(?:bool|int|list|date|networks)?\(\s*\"([A-Z_0-9]+)\"", settings_source)
    )
    # The app server's configuration reads its own.
    gunicorn_source = (ROOT / "deploy" / "gunicorn.conf.py").read_text()
    read |= set(
        re.findall(r"(?:_count|environ\.get)\(\s*\"(GUNICORN_[A-Z_0-9]+)\"", gunicorn_source)
    )
    listed = set(re.findall(r"^#?([A-Z_0-9]+)=", (ROOT / ".env.example").read_text(), re.M))
    assert len(read) > 30  # the pattern still finds them
    assert read - listed == set(), "read but not in .env.example"
    assert {name for name in listed - read if not name.startswith("ANYMAIL_")} == set()


def test_nginx_drops_an_idle_app_server_connection_before_gunicorn_does():
    """Otherwise nginx may send a member's POST on a connection gunicorn has just closed: a
    502, and a POST is not tried again on the other app server (seen under make bench)."""
    import runpy

    gunicorn_keepalive = runpy.run_path(str(ROOT / "deploy" / "gunicorn.conf.py"))["keepalive"]
    site = (ROOT / "deploy" / "nginx" / "jenco.conf").read_text()
    upstream = re.search(r"upstream jenco_app \{(.*?)\}", site, re.S)[1]
    nginx_idle = int(re.search(r"^\s*keepalive_timeout (\d+)s;", upstream, re.M)[1])
    assert nginx_idle < gunicorn_keepalive
