"""The OpenAPI 3.1 document of the HTTP door, served at ``/api/v1/openapi.json``.

Built from the same limits the server enforces; a test calls every path it
lists and validates what the server answers against the schemas here, so the
document cannot drift from the behaviour.
"""

from __future__ import annotations

from typing import Any

from haws.api.replies import STATUS
from haws.api.requests import REASON_MAX_LEN, SESSION_MAX_LEN, USER_MAX_LEN, Limits
from haws.common.release import version
from haws.protocol.client_frames import MID_MAX_LEN, TOPIC_MAX_LEN

TOPIC: dict[str, Any] = {
    "type": "string",
    "minLength": 1,
    "maxLength": TOPIC_MAX_LEN,
    "pattern": r"^[A-Za-z0-9_:\-]+(\.[A-Za-z0-9_:\-]+)*$",
}
MID: dict[str, Any] = {"type": "string", "minLength": 1, "maxLength": MID_MAX_LEN}
SEQ: dict[str, Any] = {"type": "integer", "minimum": 0}
STORED: dict[str, Any] = {
    "type": "object",
    "required": ["seq", "dup"],
    "properties": {"seq": SEQ, "dup": {"type": "boolean"}},
}
MEMBER: dict[str, Any] = {
    "type": "object",
    "required": ["session", "node"],
    "properties": {"session": {"type": "string"}, "node": {"type": "string"}, "user": {}},
}
ERROR: dict[str, Any] = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message"],
            "properties": {
                "code": {"type": "string", "enum": sorted(STATUS)},
                "message": {"type": "string"},
            },
        }
    },
}
NULLABLE_OBJECT: dict[str, Any] = {"type": ["object", "null"]}


def _obj(required: list[str], properties: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "object",
        "required": required,
        "properties": properties,
        "additionalProperties": False,
    }


def _methods(limits: Limits) -> dict[str, tuple[str, dict[str, Any], dict[str, Any]]]:
    """Per method: summary, request schema, 200 response schema."""
    return {
        "publish": (
            "Store one message on a topic (answered after it is stored), as a client pub",
            _obj(
                ["topic", "data"],
                {"topic": TOPIC, "data": {}, "mid": MID, "expect_seq": SEQ},
            ),
            STORED,
        ),
        "broadcast": (
            "Store one message on each of up to "
            f"{limits.max_broadcast_topics} topics; a result per topic",
            _obj(
                ["topics", "data"],
                {
                    "topics": {
                        "type": "array",
                        "items": TOPIC,
                        "minItems": 1,
                        "maxItems": limits.max_broadcast_topics,
                        "uniqueItems": True,
                    },
                    "data": {},
                    "mid": MID,
                },
            ),
            {
                "type": "object",
                "required": ["results"],
                "properties": {
                    "results": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "required": ["topic"],
                            "properties": {
                                "topic": TOPIC,
                                "seq": SEQ,
                                "dup": {"type": "boolean"},
                                "error": ERROR["properties"]["error"],
                            },
                        },
                    }
                },
            },
        ),
        "presence": (
            "Who is on a topic now (sessions subscribed with presence:true)",
            _obj(["topic"], {"topic": TOPIC}),
            {
                "type": "object",
                "required": ["topic", "members"],
                "properties": {"topic": TOPIC, "members": {"type": "array", "items": MEMBER}},
            },
        ),
        "presence_stats": (
            "How many sessions and distinct users are on a topic",
            _obj(["topic"], {"topic": TOPIC}),
            {
                "type": "object",
                "required": ["topic", "members", "users"],
                "properties": {
                    "topic": TOPIC,
                    "members": {"type": "integer", "minimum": 0},
                    "users": {"type": "integer", "minimum": 0},
                },
            },
        ),
        "history": (
            "Stored messages of a topic after seq `since`, oldest first",
            _obj(
                ["topic"],
                {
                    "topic": TOPIC,
                    "since": SEQ,
                    "limit": {"type": "integer", "minimum": 1, "maximum": limits.max_history},
                },
            ),
            {
                "type": "object",
                "required": ["topic", "messages", "more"],
                "properties": {
                    "topic": TOPIC,
                    "more": {"type": "boolean"},
                    "gap": {
                        "type": "object",
                        "required": ["from", "to"],
                        "properties": {"from": SEQ, "to": SEQ},
                    },
                    "messages": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "required": ["seq", "prev", "ts", "data"],
                            "properties": {
                                "seq": SEQ,
                                "prev": SEQ,
                                "ts": {"type": "integer"},
                                "data": {},
                                "from": {"type": "string"},
                                "mid": {"type": "string"},
                            },
                        },
                    },
                },
            },
        ),
        "disconnect": (
            "Close every connection of a user or a session, on every node",
            {
                **_obj(
                    [],
                    {
                        "user": {"type": "string", "minLength": 1, "maxLength": USER_MAX_LEN},
                        "session": {
                            "type": "string",
                            "minLength": 1,
                            "maxLength": SESSION_MAX_LEN,
                        },
                        "code": {"type": "integer", "minimum": 4000, "maximum": 4999},
                        "reason": {"type": "string", "minLength": 1, "maxLength": REASON_MAX_LEN},
                        "reconnect": {"type": "boolean"},
                    },
                ),
                "oneOf": [{"required": ["user"]}, {"required": ["session"]}],
            },
            {
                "type": "object",
                "required": ["closed", "nodes"],
                "properties": {
                    "closed": {"type": "integer", "minimum": 0},
                    "nodes": {"type": "array", "items": {"type": "string"}},
                },
            },
        ),
        "info": (
            "Gateway nodes (from Consul), the message and event streams, the presence leader",
            _obj([], {}),
            {
                "type": "object",
                "required": ["nodes", "stream", "events", "presence", "errors", "api"],
                "properties": {
                    "nodes": {
                        "type": ["array", "null"],
                        "items": {
                            "type": "object",
                            "required": ["node", "url", "connections", "topics"],
                            "properties": {
                                "node": {"type": "string"},
                                "url": {"type": ["string", "null"]},
                                "version": {"type": ["string", "null"]},
                                "uptime": {"type": ["number", "null"]},
                                "connections": {"type": "integer"},
                                "topics": {"type": "integer"},
                            },
                        },
                    },
                    "stream": NULLABLE_OBJECT,
                    "events": NULLABLE_OBJECT,
                    "presence": NULLABLE_OBJECT,
                    "errors": {"type": "object"},
                    "api": {"type": "object"},
                },
            },
        ),
    }


def _errors_of(method: str) -> list[int]:
    common = [400, 401, 404, 413, 429, 503]
    if method in ("publish", "broadcast", "disconnect"):
        common.append(403)
    if method == "publish":
        common.append(409)
    return sorted(common)


def openapi_document(base_url: str, limits: Limits) -> dict[str, Any]:
    paths: dict[str, Any] = {}
    for method, (summary, request, response) in _methods(limits).items():
        responses: dict[str, Any] = {
            "200": {
                "description": "done",
                "content": {"application/json": {"schema": response}},
            }
        }
        for status in _errors_of(method):
            responses[str(status)] = {
                "description": next(code for code, s in STATUS.items() if s == status),
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
            }
        paths[f"/{method}"] = {
            "post": {
                "operationId": method,
                "summary": summary,
                "requestBody": {
                    "required": method not in ("info",),
                    "content": {"application/json": {"schema": request}},
                },
                "responses": responses,
            }
        }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "haws server API",
            "version": version(),
            "description": "The same methods as the NATS micro service haws-api "
            "(subjects haws.api.v1.<method>). See docs/server-api.md.",
        },
        "servers": [{"url": base_url}],
        "security": [{"bearer": []}],
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {"Error": ERROR},
        },
        "paths": paths,
    }
