def test_it_answers_ok_without_a_database(client):
    # No django_db mark: any database access in this request would raise.
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.content == b"ok"


def test_load_balancers_may_probe_with_head(client):
    assert client.head("/healthz").status_code == 200


def test_it_rejects_post(client):
    assert client.post("/healthz").status_code == 405
