"""Promotion's decisions (tools/release/promote.py) from what the environments report: which
release is staged, whether a schema is ahead, what a rollback returns to, where an env lives."""

from __future__ import annotations

import json

import pytest

from tools.release.promote import (
    Refused,
    Status,
    inventory_path,
    previous_release,
    schema_refusal,
    staged_release,
)


def release(version: str, head: int = 4, sha: str = "a" * 64) -> dict:
    return {"version": version, "project_wheel": {"file": f"w-{version}.whl", "sha256": sha},
            "migrations_head": head, "versions": {"kafka": "4.1.1"}}


def status(current: dict | None, history: list[dict] = (), schema_head: int | None = 4,
           error: str = "") -> Status:
    record = {"release": current} if current else None
    return Status("prod", record, [{"release": r} for r in history], schema_head, error)


def test_a_release_is_found_only_when_its_manifest_is_identical(tmp_path):
    for name, manifest in {"v1": release("v1"), "v2": release("v2")}.items():
        (tmp_path / name).mkdir()
        (tmp_path / name / "release.json").write_text(json.dumps(manifest))
    (tmp_path / "current").symlink_to("v2")
    assert staged_release(release("v2"), [tmp_path / "missing", tmp_path]) == tmp_path / "v2"
    assert staged_release(release("v2", sha="b" * 64), [tmp_path]) is None


def test_the_schema_may_not_be_ahead_of_the_release():
    assert schema_refusal(status(release("v1"), schema_head=4), release("v2", head=4)) is None
    assert schema_refusal(status(release("v1"), schema_head=3), release("v2", head=4)) is None
    refusal = schema_refusal(status(release("v2"), schema_head=5), release("v1", head=4))
    assert "prod's schema is ahead: migration 5 is applied" in refusal
    assert "up to 4" in refusal
    assert schema_refusal(status(release("v2"), schema_head=5), release("v1"), True) is None


def test_an_unreadable_schema_refuses_unless_the_env_was_never_deployed():
    assert schema_refusal(status(None, schema_head=None, error="refused"), release("v1")) is None
    refusal = schema_refusal(status(release("v1"), schema_head=None, error="HTTP 503"),
                             release("v2"))
    assert "cannot read prod's schema head" in refusal and "HTTP 503" in refusal


def test_rollback_returns_to_the_newest_different_release():
    a, b = release("a"), release("b")
    assert previous_release(status(b, [a, b])) == a
    assert previous_release(status(a, [a, b, a])) == b
    assert previous_release(status(a, [a])) is None
    assert previous_release(status(None, [])) is None


def test_an_unknown_environment_is_refused_naming_the_known_ones(tmp_path):
    (tmp_path / "local-staging").mkdir()
    (tmp_path / "local-staging" / "inventory.yml").write_text("all: {}\n")
    assert inventory_path("local-staging", [tmp_path]).parent.name == "local-staging"
    with pytest.raises(Refused, match=r"no environment 'qa'.*known: local-staging"):
        inventory_path("qa", [tmp_path])
