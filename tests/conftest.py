"""Suite-wide settings: never touch the network, keep runs deterministic."""

import os

# Libraries that might reach for a hub must fail fast instead of downloading.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


import pytest  # noqa: E402


@pytest.fixture(scope="session")
def postgres_server():
    """A PostgreSQL server for the tests that run the store on it (see tests/support/postgres.py)."""
    from tests.support.postgres import ENV_VAR, Server

    server = Server(os.environ.get(ENV_VAR))
    why = server.start()
    if why:
        server.stop()
        pytest.skip(why)
    yield server
    server.stop()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path):
    """A fresh, empty database on each engine the store supports."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'g.sqlite'}"
    return request.getfixturevalue("postgres_server").database()
