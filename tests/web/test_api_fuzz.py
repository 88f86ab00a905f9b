"""The JSON API against its own OpenAPI document, fuzzed by schemathesis for every role: no
request, however odd, gets a 500, and every answer is one the document promises."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings

schemathesis = pytest.importorskip("schemathesis")
from schemathesis.checks import not_a_server_error  # noqa: E402
from schemathesis.specs.openapi.checks import (  # noqa: E402
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from gauntlet.web.app import create_app  # noqa: E402

ROLES = ("public", "voter", "lg", "skt", "e1", "organiser")  # voter: a visitor with a cookie and no token
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
EXAMPLES = 80  # per role: the whole run stays well under a minute


@pytest.mark.parametrize("role", ROLES)
def test_the_api_answers_every_role_as_its_document_says(world, tmp_path, role):
    app = create_app(world.url, clock=world.clock, arena_seed=7, workspace=tmp_path / "workspace",
                     submission_roots=(str(tmp_path / "teams" / "{team}"),))
    schema = schemathesis.openapi.from_asgi("/openapi.json", app).include(path_regex="^/api/")
    headers = {"Authorization": f"Bearer {world.tokens[role]}"} if role in world.tokens else {}
    if role == "voter":
        from fastapi.testclient import TestClient

        visitor = TestClient(app).get("/arena").cookies.get("gauntlet_visitor")
        headers = {"Cookie": f"gauntlet_visitor={visitor}"}

    @given(case=schema.as_strategy())
    @settings(max_examples=EXAMPLES, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    def fuzz(case):
        response = case.call_and_validate(headers=headers, checks=CHECKS)
        answered[response.status_code < 400] += 1

    answered = {True: 0, False: 0}
    fuzz()
    # The fuzz reached past the refusals too: some requests of every role were answered.
    assert answered[True] > 0 and answered[False] > 0, answered
