import datetime
import time

import pytest
from django.core.management import call_command
from django.utils import timezone

from accounts.models import SecurityEvent
from tests.conftest import PASSWORD, solved_captcha

pytestmark = pytest.mark.django_db


def test_old_events_are_pruned_and_recent_ones_kept(member):
    old = SecurityEvent.objects.create(
        kind="sign_in", member=member, created=timezone.now() - datetime.timedelta(days=500)
    )
    recent = SecurityEvent.objects.create(kind="sign_in", member=member)
    call_command("prune_security_events", "--days", "400")
    assert not SecurityEvent.objects.filter(pk=old.pk).exists()
    assert SecurityEvent.objects.filter(pk=recent.pk).exists()


def test_each_event_says_who_from_where(client, member):
    client.post(
        "/login/",
        {"username": "JPN1000001", "password": PASSWORD, **solved_captcha()},
        REMOTE_ADDR="203.0.113.7",
        HTTP_USER_AGENT="Mozilla/5.0 (iPhone)",
    )
    event = SecurityEvent.objects.get(kind="sign_in")
    assert (event.member, event.ip_address, event.user_agent) == (
        member,
        "203.0.113.7",
        "Mozilla/5.0 (iPhone)",
    )


@pytest.mark.parametrize(
    ("proxies", "forwarded", "recorded"),
    [
        (0, "198.51.100.9", "10.0.0.2"),  # no proxy: a header a client wrote counts for nothing
        (1, "198.51.100.9", "198.51.100.9"),
        (1, "1.2.3.4, 198.51.100.9", "198.51.100.9"),  # the client's own entry is ignored
        (2, "1.2.3.4, 198.51.100.9, 10.0.0.5", "198.51.100.9"),
        (1, "not-an-address", "10.0.0.2"),
        (2, "198.51.100.9", "10.0.0.2"),  # fewer entries than proxies: the peer
    ],
)
def test_behind_proxies_the_client_address_is_the_one_they_saw(
    client, member, settings, proxies, forwarded, recorded
):
    settings.JENCO_TRUSTED_PROXIES = proxies
    client.post(
        "/login/",
        {"username": "JPN1000001", "password": PASSWORD, **solved_captcha()},
        REMOTE_ADDR="10.0.0.2",
        HTTP_X_FORWARDED_FOR=forwarded,
    )
    assert SecurityEvent.objects.get(kind="sign_in").ip_address == recorded


def test_a_sign_in_ends_after_its_absolute_lifetime(client, member, settings):
    client.post("/login/", {"username": "JPN1000001", "password": PASSWORD, **solved_captcha()})
    assert client.get("/backoffice/").status_code == 200
    session = client.session
    session["signed_in_at"] = int(time.time()) - settings.JENCO_SESSION_MAX_SECONDS - 1
    session.save()
    assert client.get("/backoffice/")["Location"].startswith("/login/")
