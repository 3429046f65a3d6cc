"""/healthz for load balancers and monitors, and HEAD, which monitors ask with, on every page."""

import pytest

from accounts.models import SecurityEvent


def test_it_answers_ok_without_a_database(client):
    # No django_db mark: any database access in this request would raise.
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.content == b"ok"


def test_load_balancers_may_probe_with_head(client):
    assert client.head("/healthz").status_code == 200


def test_it_rejects_post(client):
    assert client.post("/healthz").status_code == 405


@pytest.mark.parametrize(
    "path", ["/login/", "/password/forgot/", "/pin/forgot/", "/register/", "/login/passkey/"]
)
def test_a_form_page_answers_head_as_it_answers_get(client, db, path):
    # A monitor pointed at the site (/ → /login/) asks with HEAD: the pages with a form
    # answered 405, and the site read as down.
    head, get = client.head(path), client.get(path)
    assert head.status_code == get.status_code == 200
    assert head["Content-Type"] == get["Content-Type"] and not head.content
    assert int(head["Content-Length"]) > 1000


def test_head_of_a_form_page_changes_nothing(member_client, member):
    # Views read any method but GET as a post: a HEAD posted nothing, counted no wrong PIN.
    events = SecurityEvent.objects.count()
    response = member_client.head("/backoffice/profile/pin/")
    assert response.status_code == 200 and not response.content
    assert SecurityEvent.objects.count() == events
    member.refresh_from_db()
    assert member.pin_failures == 0


def test_head_of_a_post_only_address_is_refused_as_its_get(client, db):
    assert client.head("/logout/").status_code == client.get("/logout/").status_code == 405
