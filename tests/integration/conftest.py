"""Integration fixtures: the real local stack, brought up by the tests themselves."""

from __future__ import annotations

import uuid

import pytest

from runtime.topology import Topology
from stack import lifecycle


@pytest.fixture(scope="session")
def stack_handle() -> lifecycle.Stack:
    """The running local stack (started if needed; `make up` is idempotent)."""
    return lifecycle.up()


@pytest.fixture(scope="session")
def stack(stack_handle) -> Topology:
    return stack_handle.topo


@pytest.fixture(scope="session")
def credentials(stack_handle) -> dict[str, str]:
    return stack_handle.secrets


@pytest.fixture
def unique_name(request) -> str:
    """A name no other test (or earlier run) uses: for topics, tables, prefixes."""
    stem = "".join(c if c.isalnum() else "_" for c in request.node.name)[:40]
    return f"t_{stem}_{uuid.uuid4().hex[:8]}"
