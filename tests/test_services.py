"""tools/services.py finds Debian's PostgreSQL, whichever release the machine runs."""

import socket

import pytest

from tools import services


@pytest.fixture
def installed(tmp_path, monkeypatch):
    """A /usr/lib/postgresql with these versions' programs in it."""
    monkeypatch.delenv("PG_BIN", raising=False)
    monkeypatch.setattr(services, "PG_LIB", tmp_path)

    def install(*versions: str):
        for version in versions:
            (tmp_path / version / "bin").mkdir(parents=True)
            (tmp_path / version / "bin" / "initdb").touch()
        return tmp_path

    return install


def test_debian_12s_postgresql_15_and_debian_13s_17_are_found(installed):
    lib = installed("15")
    assert services.pg_bin() == lib / "15" / "bin"
    installed("17")
    assert services.pg_bin() == lib / "17" / "bin"  # the newest, with 15 still there


def test_a_cluster_made_before_is_run_by_its_own_version(installed, tmp_path):
    lib = installed("15", "17")
    data = tmp_path / "data"
    data.mkdir()
    (data / "PG_VERSION").write_text("15\n")
    assert services.pg_bin(data) == lib / "15" / "bin"
    assert services.pg_bin(tmp_path / "none yet") == lib / "17" / "bin"


def test_versions_older_than_15_are_not_used(installed):
    lib = installed("13")
    assert services.pg_bin() == lib / "15" / "bin"  # absent: start says to install postgresql


def test_pg_bin_names_another_installation(installed, monkeypatch, tmp_path):
    installed("17")
    monkeypatch.setenv("PG_BIN", str(tmp_path / "elsewhere"))
    assert services.pg_bin() == tmp_path / "elsewhere"


def test_a_port_whose_server_just_stopped_is_free_again():
    # Its closed connections wait out TIME_WAIT; a server binding it (SO_REUSEADDR) may.
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    client = socket.create_connection(("127.0.0.1", port))
    accepted, _ = listener.accept()
    accepted.close()  # the server's side closes first: it waits in TIME_WAIT
    client.close()
    listener.close()
    assert services.port_is_free(port)
    with socket.create_server(("127.0.0.1", port)) as running:
        assert running and not services.port_is_free(port)
