"""The OpenAPI document at ``/api/v1/openapi.json`` says what the server does:
every path it lists is called, and every answer, success or error, validates
against the schema the document gives for that status."""

from __future__ import annotations

from typing import Any

import jsonschema
from jsonschema.validators import Draft202012Validator

from haws.api.node import ApiNode
from haws.common import names
from tests.integration.conftest import Connect
from tests.support.api_caller import ApiCaller
from tests.support.gateway_runner import RunningGateway


def schema_for(document: dict[str, Any], method: str, status: int) -> dict[str, Any]:
    response = document["paths"][f"/{method}"]["post"]["responses"][str(status)]
    schema: dict[str, Any] = response["content"]["application/json"]["schema"]
    # Resolve the one shared component the document refers to.
    return {**schema, "components": document["components"]}


def validate(document: dict[str, Any], method: str, status: int, body: Any) -> None:
    schema = schema_for(document, method, status)
    ref = schema.get("$ref")
    if ref is not None:
        schema = {"$ref": ref, **{k: v for k, v in schema.items() if k != "$ref"}}
    jsonschema.validate(body, schema, cls=Draft202012Validator)


async def test_every_documented_method_answers_as_documented(
    api: ApiNode,
    http: ApiCaller,
    presence: object,
    gateway: RunningGateway,
    connect: Connect,
    topic: str,
) -> None:
    del presence
    async with http.session.get(f"{api.url}/openapi.json") as resp:
        assert resp.status == 200
        document = await resp.json()
    Draft202012Validator.check_schema(document["components"]["schemas"]["Error"])
    assert document["openapi"].startswith("3.1")
    assert document["servers"][0]["url"] == api.url
    assert {p.strip("/") for p in document["paths"]} == set(names.API_METHODS)

    client = await connect(gateway.url)
    await client.sub(topic, presence=True)
    good: dict[str, dict[str, Any]] = {
        "publish": {"topic": topic, "data": {"x": 1}, "mid": f"doc-{topic}"},
        "broadcast": {"topics": [topic, f"{topic}.b"], "data": 2},
        "presence": {"topic": topic},
        "presence_stats": {"topic": topic},
        "history": {"topic": topic, "since": 0, "limit": 5},
        "disconnect": {"user": "nobody-at-all"},
        "info": {},
    }
    for method, body in good.items():
        request_schema = document["paths"][f"/{method}"]["post"]["requestBody"]["content"][
            "application/json"
        ]["schema"]
        jsonschema.validate(body, request_schema, cls=Draft202012Validator)
        answer = await http.post(method, body)
        assert answer.status == 200, (method, answer)
        validate(document, method, 200, answer.body)

    documented_errors = {
        ("publish", 400): {"topic": "no spaces allowed", "data": 1},
        ("publish", 409): {"topic": topic, "data": 1, "expect_seq": 0},
        ("history", 400): {"topic": topic, "limit": 0},
        ("broadcast", 400): {"topics": [], "data": 1},
    }
    for (method, status), body in documented_errors.items():
        answer = await http.post(method, body)
        assert answer.status == status, (method, answer)
        assert str(status) in document["paths"][f"/{method}"]["post"]["responses"]
        validate(document, method, status, answer.body)
    unauthorized = await http.post("info", {}, key=None)
    assert unauthorized.status == 401
    validate(document, "info", 401, unauthorized.body)
