"""Fixtures shared by the job's unit tests: a local SparkSession and an embedded chDB with the
migrated schema (modules may override them with their own)."""

from __future__ import annotations

import uuid

import pytest
from spark_support import local_spark, open_chdb

from clickhouse.migrate import default_names, migrate


@pytest.fixture(scope="module")
def spark():
    return local_spark()


@pytest.fixture(scope="module")
def chdb(tmp_path_factory):
    client = open_chdb(tmp_path_factory.mktemp("chdb"))
    yield client
    client.close()


@pytest.fixture
def names(chdb):
    names = default_names(f"t_{uuid.uuid4().hex[:12]}")
    migrate(chdb, names)
    return names
