"""The database URL a person gives: every spelling of a PostgreSQL URL opens the same database
through psycopg 3 (hosting providers hand out ``postgres://``), a URL of another database or of
none is one clear line naming neither the password nor a driver module, and a password never
appears where the URL is shown."""

from __future__ import annotations

import pytest

from stagent.domain.errors import DatabaseUnavailableError
from stagent.store import tasks as task_repo
from stagent.store.database import Store
from stagent.store.engine import normalize_url, redact_url

PASSWORD = "s3cret-pw"


@pytest.mark.parametrize(
    "given",
    [
        f"postgresql://me:{PASSWORD}@db.example:5432/work",
        f"postgres://me:{PASSWORD}@db.example:5432/work",
        f"postgresql+psycopg2://me:{PASSWORD}@db.example:5432/work",
        f"postgresql+psycopg://me:{PASSWORD}@db.example:5432/work",
    ],
)
def test_every_spelling_of_a_postgresql_url_uses_psycopg_3(given: str) -> None:
    assert normalize_url(given) == f"postgresql+psycopg://me:{PASSWORD}@db.example:5432/work"
    store = Store(given)  # builds the engine; connects only when used
    try:
        assert store.safe_url == "postgresql+psycopg://me:***@db.example:5432/work"
        assert not store.is_sqlite
    finally:
        store.dispose()


def test_sqlite_urls_are_kept_as_given() -> None:
    for url in ("sqlite:////srv/stagent/data.sqlite", "sqlite:///relative.sqlite", "sqlite://"):
        assert normalize_url(url) == url
        assert redact_url(url) == url


@pytest.mark.parametrize(
    "given",
    [
        f"mysql://root:{PASSWORD}@db.example/work",
        f"oracle://root:{PASSWORD}@db.example/work",
        f"mssql+pyodbc://root:{PASSWORD}@db.example/work",
        "not a url",
        "",
    ],
)
def test_a_url_of_another_database_or_none_is_one_clear_line(given: str) -> None:
    with pytest.raises(DatabaseUnavailableError) as caught:
        Store(given)
    message = caught.value.message
    assert message.startswith("cannot open database: ")
    assert message.endswith("is not a SQLite or PostgreSQL URL")
    assert PASSWORD not in message and "\n" not in message
    assert "sqlite:///" in (caught.value.hint or "") and "postgresql" in (caught.value.hint or "")


@pytest.mark.postgres
def test_a_providers_postgres_url_opens_the_same_database(pg_url: str) -> None:
    store = Store(pg_url)
    try:
        store.upgrade()
        with store.write() as session:
            task_repo.create(session, task_repo.NewTask(title="written through psycopg"))
    finally:
        store.dispose()
    provider = pg_url.replace("postgresql+psycopg://", "postgres://", 1)
    other = Store(provider)
    try:
        other.check_connection()
        with other.read() as session:
            assert [t.title for t in task_repo.list_tasks(session)] == ["written through psycopg"]
    finally:
        other.dispose()
