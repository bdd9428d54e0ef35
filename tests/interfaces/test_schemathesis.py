"""Schemathesis against the OpenAPI document the server serves at ``/v1/openapi.json``.

The whole HTTP app (REST, ``/health``, its lifespan opening the stores) runs in process through
schemathesis's ASGI client. Every operation of the document is exercised with generated valid
and invalid requests, and every answer must be no server error, carry a status the document
lists for the operation, the content type it declares and a body matching its schema.
Bounded: a few dozen examples per operation, derandomized so CI sees the same cases each run.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.generation.modes import GenerationMode
from schemathesis.python import asgi
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from memvault import Config
from memvault.interfaces.runtime import ServeOptions
from memvault.interfaces.serve import build_http_app

pytestmark = pytest.mark.timeout(120)

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_schema_conformance]
#: Host the ASGI client sends; the server admits it as a configured --allowed-host.
TEST_HOST = asgi.HOST
#: Examples per operation and mode: the whole file stays well under a minute.
EXAMPLES = 20


@pytest.fixture
def api_schema(tmp_path: Path) -> Iterator[Any]:
    """The served document, loaded from a fresh app. Schemathesis ends the app's lifespan
    after each test and an app's lifespan runs once, so each test gets its own app."""
    config = Config.from_flat({"database": str(tmp_path / "m.db"), "user_id": "alice",
                               "embedder": "none"})
    app = build_http_app(config, ServeOptions(transport="http", allowed_hosts=(TEST_HOST,)))
    try:
        loaded = schemathesis.openapi.from_asgi("/v1/openapi.json", app)
        # /health answers 503 "starting" until the stores are open; a REST call waits (a
        # bounded wait) for them, so after it every operation meets an open server.
        with asgi.get_client(app) as client:
            assert client.get("/v1/profile").status_code == 200
        yield loaded
    finally:
        # Ended by schemathesis's own teardown too; ending it here closes the stores even
        # when loading the document failed.
        asgi.shutdown_lifespans()


def _cases() -> list[tuple[GenerationMode, str, str]]:
    """Every operation with valid requests; those with a body or query parameters also with
    invalid ones (the others have nothing an invalid request could get wrong: their path
    parameter and identity headers are any string)."""
    from memvault.interfaces.http.openapi import openapi_document

    cases = []
    for path, methods in openapi_document()["paths"].items():
        for method, operation in methods.items():
            cases.append((GenerationMode.POSITIVE, path, method.upper()))
            if "requestBody" in operation or any(
                    p.get("in") == "query" for p in operation.get("parameters", [])):
                cases.append((GenerationMode.NEGATIVE, path, method.upper()))
    return cases


@pytest.mark.parametrize(("mode", "path", "method"), _cases())
def test_every_operation_answers_as_documented(
    api_schema: Any, mode: GenerationMode, path: str, method: str
) -> None:
    operation = api_schema[path][method]

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck),
              phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.shrink])
    def run(case: Any) -> None:
        case.call_and_validate(checks=CHECKS)

    run()
