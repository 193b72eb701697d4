"""URIs as errors, links and lineage show them: never with a password."""

from __future__ import annotations

import pytest

from fitting_room.tracking.uris import without_password


@pytest.mark.parametrize(
    ("uri", "shown"),
    [
        ("postgresql+psycopg://mlflow:s3cr3t@db.internal:5432/mlflow", "postgresql+psycopg://mlflow:***@db.internal:5432/mlflow"),
        # SQLAlchemy reads the password up to the first "@", "/", "?" and "#" included
        ("postgresql://mlflow:pa/ss?x#y@db:5432/mlflow", "postgresql://mlflow:***@db:5432/mlflow"),
        ("postgresql://db/mlflow?user=mlflow&password=s3cr3t&sslmode=require", "postgresql://db/mlflow?user=mlflow&password=***&sslmode=require"),
        ("mysql+pymysql://root:@db/mlflow", "mysql+pymysql://root:***@db/mlflow"),
        ("http://127.0.0.1:5000", "http://127.0.0.1:5000"),
        ("https://token-user@mlflow.example", "https://token-user@mlflow.example"),
        ("sqlite:////srv/mlflow/a:b@c.db", "sqlite:////srv/mlflow/a:b@c.db"),
        ("databricks", "databricks"),
    ],
)  # fmt: skip
def test_a_password_in_a_store_or_server_uri_is_never_shown(uri, shown):
    assert without_password(uri) == shown
