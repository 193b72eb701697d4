"""Property-based fuzz of the service's own OpenAPI schema: whatever a client sends, never a 5xx.

Schemathesis reads ``/docs.json`` from the running server and generates valid (positive) and
invalid (negative) requests for every operation; each answer must be below 500, and the
service must keep serving afterwards. Examples per operation are bounded so the tier stays fast.
(Schemathesis' own pytest loader is not used: its lazy fixture loader breaks on this pytest.)
"""

from __future__ import annotations

import contextlib

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode

pytestmark = pytest.mark.slow

MAX_EXAMPLES = 12  # per operation and generation mode; enough to hit every bound and type error


@pytest.fixture(scope="module")
def operations(server) -> dict:
    schema = schemathesis.openapi.from_url(f"{server.url}/docs.json")
    found = {}
    for result in schema.get_all_operations():
        operation = result.ok()
        found[operation.label] = operation
    return found


def test_the_schema_lists_every_public_operation(operations):
    assert {"POST /generate", "POST /info", "GET /livez", "GET /readyz"} <= set(operations)


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=lambda m: m.value)
def test_no_request_drawn_from_the_schema_gets_a_server_error(operations, server, mode):
    failures: list[str] = []
    for operation in sorted(operations.values(), key=lambda op: op.label):
        fuzz_operation(operation, mode, server.url, failures)
    assert not failures, "\n".join(failures[:10])


def fuzz_operation(operation, mode, base_url: str, failures: list[str]) -> None:
    """Send ``MAX_EXAMPLES`` generated requests to one operation; record every 5xx."""

    @settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        database=None,
        derandomize=True,  # the same requests every run: a failure here is reproducible
        suppress_health_check=list(HealthCheck),
    )
    @given(operation.as_strategy(generation_mode=mode))
    def call(case):
        response = case.call(base_url=base_url, timeout=30)
        if response.status_code >= 500:
            failures.append(
                f"{operation.label} {case.body!r} -> {response.status_code} {response.text[:300]}"
            )

    # Unsatisfiable: nothing to break, e.g. no negative request exists for GET /livez
    with contextlib.suppress(Unsatisfiable):
        call()


def test_the_service_still_serves_after_the_fuzz(server):
    assert httpx.get(f"{server.url}/readyz").status_code == 200
    assert httpx.post(f"{server.url}/generate", json={"category": "dress"}, timeout=30).status_code == 200
