"""Property-based fuzzing of the served OpenAPI document (schemathesis) against the app on real services.

Every operation gets schema-valid and schema-violating requests, authenticated as a real user,
for a bounded time. The run fails on any 5xx, on any answer the document does not describe (an
undocumented status code, content type or header, or a body that does not match its schema), and
on schema-violating input that is accepted.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.app.support import AppServer, new_user

pytestmark = pytest.mark.services

# The whole run is bounded by --max-time; the per-operation cap keeps one slow path from eating it.
MAX_SECONDS = 45
MAX_EXAMPLES = 60
CHECKS = ",".join(
    [
        "not_a_server_error",
        "status_code_conformance",
        "content_type_conformance",
        "response_headers_conformance",
        "response_schema_conformance",
        "negative_data_rejection",
    ]
)


@pytest.fixture(scope="module")
def fuzzed(
    module_db: str, module_aws: Any, make_settings: Callable[..., Any], redis_service: Any
) -> Iterator[AppServer]:
    # A Redis database of its own: thousands of failed logins from 127.0.0.1 must not throttle
    # the other tests' logins, which share the address and the server.
    redis_url = redis_service.url.rsplit("/", 1)[0] + "/7"
    with AppServer(make_settings(module_db, module_aws, redis_url=redis_url)) as server:
        yield server


def test_the_document_is_served_and_lists_every_error_answer(fuzzed: AppServer) -> None:
    response = fuzzed.client.get("/openapi.json")
    assert response.status_code == 200
    document = response.json()
    assert document["openapi"].startswith("3.")
    operations = {(m.upper(), p): op for p, ops in document["paths"].items() for m, op in ops.items()}
    expected = {
        ("POST", "/auth/register"): {"201", "409", "413", "422", "429", "503"},
        ("POST", "/auth/password"): {"204", "401", "413", "422", "429", "503"},
        ("POST", "/auth/logout"): {"204", "401", "503"},
        ("POST", "/auth/login"): {"200", "401", "413", "422", "429", "503"},
        ("GET", "/cart"): {"200", "401", "503"},
        ("PUT", "/cart/items/{sku}"): {"200", "401", "409", "413", "422", "503"},
        ("DELETE", "/cart/items/{sku}"): {"200", "401", "422", "503"},
        ("POST", "/orders"): {"201", "401", "409", "422", "503"},
        ("GET", "/orders/{order_id}"): {"200", "401", "404", "422", "503"},
    }
    for key, codes in expected.items():
        responses = operations[key]["responses"]
        assert set(responses) >= codes, (key, sorted(responses))
        for code in codes - {"200", "201", "204"}:
            schema = responses[code]["content"]["application/json"]["schema"]
            assert schema == {"$ref": "#/components/schemas/Error"}, (key, code)
    assert all("400" in operation["responses"] for operation in operations.values())
    assert operations[("POST", "/auth/login")]["responses"]["429"]["headers"]["Retry-After"]["required"] is True
    assert operations[("GET", "/cart")]["security"] == [{"HTTPBearer": []}]
    # The validation answer is the app's own shape, not FastAPI's default (which echoes the input).
    assert "HTTPValidationError" not in document["components"]["schemas"]


def test_fuzzing_finds_no_server_error_and_no_answer_outside_the_document(
    fuzzed: AppServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, auth = new_user(fuzzed.client)
    report = tmp_path / "report.json"
    command = [
        sys.executable,
        "-m",
        "schemathesis.cli",
        "run",
        f"{fuzzed.url}/openapi.json",
        "--checks",
        CHECKS,
        "--max-time",
        str(MAX_SECONDS),
        "--max-examples",
        str(MAX_EXAMPLES),
        # One worker: CPython 3.11 can raise "AST constructor recursion depth mismatch" when two
        # threads parse source at once (python/cpython#106905), which Hypothesis does for filters.
        "--workers",
        "1",
        "--request-timeout",
        "10",
        "--seed",
        "20261128",
        "--header",
        f"Authorization: {auth['Authorization']}",
        # Signing out would end the one token every other operation is fuzzed with; its own tests
        # (tests/app/test_api_signout.py) cover it.
        "--exclude-path",
        "/auth/logout",
        "--report",
        "json",
        "--report-json-path",
        str(report),
        "--no-color",
    ]
    before = statuses(fuzzed)
    # Run from the temporary directory: schemathesis keeps a cache in the working directory.
    run = subprocess.run(
        command, cwd=tmp_path, capture_output=True, text=True, timeout=MAX_SECONDS + 120, check=False
    )
    after = statuses(fuzzed)
    result = json.loads(report.read_text()) if report.exists() else {}
    answered = after - before
    figures = {
        "operations": result.get("operations", {}).get("tested"),
        "test_cases": result.get("test_cases", {}).get("generated"),
        "requests": sum(answered.values()),
        "by_status": dict(sorted(answered.items())),
        "seconds": round(result.get("running_time", 0), 1),
    }
    with capsys.disabled():
        print(f"\n[schemathesis] {figures}", flush=True)
    assert run.returncode == 0, run.stdout[-6000:] + run.stderr[-3000:] + json.dumps(result.get("errors"))[:3000]
    assert result["failures"] == [] and result["errors"] == [], result
    operations = result["operations"]
    # Every operation but sign-out (excluded above) was fuzzed.
    assert operations["tested"] == operations["selected"] == operations["total"] - 1 >= 13, operations
    assert figures["requests"] >= 500, figures
    assert not [status for status in answered if status >= 500], figures


def statuses(server: AppServer) -> Counter[int]:
    """Answers so far, by status, from the app's own request counter (what the server saw)."""
    seen: Counter[int] = Counter()
    for metric in server.state.metrics.requests.collect():
        for sample in metric.samples:
            if sample.name == "http_requests_total":
                seen[int(sample.labels["status"])] += int(sample.value)
    return seen
