"""The OpenAPI document is valid OpenAPI 3, documents every API route, and schemathesis finds no 5xx."""
from __future__ import annotations

import threading

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from openapi_spec_validator import validate
from schemathesis.checks import (content_type_conformance, not_a_server_error, response_schema_conformance,
                                 status_code_conformance)

import diagrams
pytest.register_assert_rewrite("webtools")  # it is also this module's plugin (pytest_plugins below)
from webtools import rich_form_process

from orchestrator.services import instances, users
from orchestrator.services.access import ALL_ROLES, SYSTEM

pytest_plugins = ["webtools"]  # the web fixtures: app, web, new_client, role_users


@pytest.fixture
def all_roles_token(orc, make_user) -> str:
    make_user("alt", *ALL_ROLES)
    return users.create_token(orc, "alt")


@pytest.fixture
def live_server(app):
    """The application served over real HTTP on loopback (werkzeug, threaded), as clients meet it."""
    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(10)


@pytest.fixture
def api_schema(live_server, orc, deploy, all_roles_token):
    """Some state to act on (processes, instances, tasks), then the document as a client gets it."""
    deploy(*diagrams.user_task_with_gateway())
    deploy(*diagrams.messages())
    deploy(*rich_form_process())
    for n in range(3):
        instances.start(orc, "test_gateway", SYSTEM, f"SAK-{n}")
    instances.start(orc, "test_koordinering", SYSTEM, "SAK-K")
    return schemathesis.openapi.from_url(f"{live_server}/api/v1/openapi.json",
                                         headers={"Authorization": f"Bearer {all_roles_token}"})


def test_the_document_is_valid_openapi_3(web, all_roles_token):
    document = web.api("GET", "/api/v1/openapi.json", all_roles_token).get_json()
    validate(document)
    assert document["openapi"] == "3.0.3"
    assert document["components"]["securitySchemes"]["bearerAuth"] == {"type": "http", "scheme": "bearer"}
    complete = document["paths"]["/api/v1/tasks/{task_id}/complete"]["post"]
    assert set(complete["responses"]) == {"200", "401", "403", "404", "409", "422"}
    assert complete["requestBody"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Complete"}
    deploy = document["paths"]["/api/v1/processes"]["post"]["requestBody"]["content"]
    assert set(deploy) == {"application/xml", "application/json", "multipart/form-data"}
    error = document["components"]["schemas"]["Error"]["properties"]
    assert {"message", "errors", "problems"} <= set(error)


def test_a_body_is_required_exactly_where_the_endpoint_requires_one(web, all_roles_token, role_users):
    document = web.api("GET", "/api/v1/openapi.json", all_roles_token).get_json()
    complete = document["paths"]["/api/v1/tasks/{task_id}/complete"]["post"]["requestBody"]
    start = document["paths"]["/api/v1/instances"]["post"]["requestBody"]
    assert (complete["required"], start["required"]) == (False, True)
    # and the code agrees: no body is a 422 where one is required, and accepted where it is not
    assert web.api("POST", "/api/v1/instances", role_users.tokens["tjenesteyter"]).status_code == 422


def test_every_api_view_reads_its_request_only_through_its_declaration(app):
    """`operation` reads the query and JSON body; a view touching `request` itself could read what the
    document does not say. Only views that declare a non-JSON body (`body_content`) read it themselves."""
    import inspect

    for endpoint, view in app.view_functions.items():
        meta = getattr(view, "openapi", None)
        if meta is None or not endpoint.startswith("api."):
            continue
        source = inspect.getsource(inspect.unwrap(view))
        if "request." in source:
            assert meta["body_content"] is not None, f"{endpoint} reads the request beside its declaration"


def test_every_api_route_is_documented(app, web, all_roles_token):
    document = web.api("GET", "/api/v1/openapi.json", all_roles_token).get_json()
    documented = {(path, method.upper()) for path, item in document["paths"].items() for method in item}
    import re

    for rule in app.url_map.iter_rules():
        if not rule.endpoint.startswith("api.") or rule.endpoint == "api.openapi_json":
            continue
        path = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule)
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            assert (path, method) in documented, (path, method)


CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


@pytest.mark.slow
def test_no_generated_request_gets_a_server_error(api_schema, all_roles_token):
    """Every operation against the live server, examples generated from the document (schemathesis +
    hypothesis): no 5xx, and every answer's status, content type and body are the ones the document
    promises."""
    headers = {"Authorization": f"Bearer {all_roles_token}"}
    failures, tried = [], 0
    for result in api_schema.get_all_operations():
        operation = result.ok()

        @given(case=operation.as_strategy())
        @settings(max_examples=25, deadline=None, derandomize=True, database=None,
                  suppress_health_check=list(HealthCheck))
        def run(case):
            case.call_and_validate(headers=headers, checks=CHECKS)

        tried += 1
        try:
            run()
        except Exception as error:  # noqa: BLE001  (collect every operation's failure, then report)
            failures.append(f"{operation.method.upper()} {operation.path}: {error}")
    assert tried >= 13
    assert not failures, "\n\n".join(failures)
