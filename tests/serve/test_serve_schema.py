"""schemathesis fuzzes the API from its own OpenAPI schema: whatever it sends, no answer is a 5xx, and a
request the schema calls valid is answered with a 2xx (the schema states the server's real limits: a
class beyond a conditional run's last was schema-valid and a 422).

The schema is the one the server publishes for the run (``/openapi.json``), so every endpoint the run
declares is fuzzed, with bodies inside and outside the schema (schemathesis's negative mode).
"""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error, positive_data_acceptance

from ganforge.runs.run import load_run
from ganforge.serve.app import build_app
from ganforge.serve.requests import Limits


@pytest.fixture(scope="module", params=["digits", "cgan", "pix2pix"])
def api_schema(request, served_runs):
    app = build_app(load_run(served_runs / request.param), Limits(max_n=16))
    return schemathesis.openapi.from_asgi("/openapi.json", app)


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_request_gets_a_server_error(case):
    # An uploaded image must be of a size the run takes (/v1/score: its own; a U-Net: multiples of 16),
    # which an OpenAPI binary body cannot state (the description says it in words): any image is
    # schema-valid there, so an upload is held to the 5xx check only, a JSON body to both
    upload = case.media_type is not None and case.media_type.startswith("image/")
    checks = [not_a_server_error] if upload else [not_a_server_error, positive_data_acceptance]
    case.call_and_validate(checks=checks)
