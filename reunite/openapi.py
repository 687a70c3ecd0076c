"""The OpenAPI document of the JSON API, built from declarations attached to the API views.

Every view under ``/api/`` carries an :func:`api_doc` declaration: the JSON Schema of its
request body and query parameters (mirroring what :mod:`reunite.jsonapi` parses) and of each
answer. :func:`build` walks ``app.url_map`` and assembles the document with apispec; a route
without a declaration is left out of the document and named by :func:`undeclared_routes`
(the test suite fails on it). Schemas are JSON Schema 2020-12, as OpenAPI 3.1 takes them.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TypeVar

from apispec import APISpec
from flask import Flask
from werkzeug.routing import IntegerConverter, Rule

F = TypeVar("F", bound=Callable[..., Any])
Schema = dict[str, Any]
Auth = Literal["public", "session", "session_no_totp"]

API_PREFIX = "/api/"
API_VERSION = "1.0.0"
OPENAPI_VERSION = "3.1.0"
ATTRIBUTE = "__openapi__"
CLAIMS_SCHEMA_PATH = Path(__file__).parent / "claims" / "claims-v1.schema.json"

# Named schemas, registered at import time by the modules that declare them.
_COMPONENTS: dict[str, Schema] = {}

ERROR_TEXT = {
    400: "Invalid input (the body names the field), or the CSRF token is missing or wrong.",
    401: "Not logged in, or wrong credentials.",
    403: "Logged in but not allowed (staff: TOTP not yet verified in this session).",
    404: "No such resource, or not visible to this account.",
    409: "Conflicts with the current state.",
    413: "The request body is too large.",
    429: "Too many requests: a rate limit was reached.",
    503: "The database is briefly unavailable (with Retry-After).",
}


def component(name: str, schema: Schema) -> Schema:
    """Register a named schema and return a ``$ref`` to it."""
    existing = _COMPONENTS.get(name)
    if existing is not None and existing != schema:
        raise ValueError(f"two different schemas named {name}")
    _COMPONENTS[name] = schema
    return ref(name)


def ref(name: str) -> Schema:
    """A reference to a named schema."""
    return {"$ref": f"#/components/schemas/{name}"}


# --- building blocks mirroring reunite.jsonapi --------------------------------------------------


def b64(size: int | None = None, *, max_size: int | None = None) -> Schema:
    """base64url without padding; ``size`` bytes exactly, or at most ``max_size`` bytes."""
    schema: Schema = {"type": "string", "pattern": "^[A-Za-z0-9_-]*$", "contentEncoding": "base64url"}
    if size is not None:
        schema["minLength"] = schema["maxLength"] = (size * 4 + 2) // 3
    elif max_size is not None:
        schema["maxLength"] = (max_size * 4 + 2) // 3
    return schema


def string(max_len: int = 256, *, min_len: int | None = None, enum: Iterable[str] | None = None) -> Schema:
    """A string of at most ``max_len`` characters."""
    schema: Schema = {"type": "string", "maxLength": max_len}
    if min_len is not None:
        schema["minLength"] = min_len
    if enum is not None:
        schema["enum"] = list(enum)
    return schema


def integer(lo: int | None = None, hi: int | None = None) -> Schema:
    """An integer, optionally within [lo, hi]."""
    schema: Schema = {"type": "integer"}
    if lo is not None:
        schema["minimum"] = lo
    if hi is not None:
        schema["maximum"] = hi
    return schema


def nullable(schema: Schema) -> Schema:
    """The schema or null."""
    return {"anyOf": [schema, {"type": "null"}]}


def obj(properties: Mapping[str, Schema], required: Iterable[str] = (), *, closed: bool = True) -> Schema:
    """An object; ``closed`` refuses other keys, as ``json_body(allowed=...)`` does."""
    schema: Schema = {"type": "object", "properties": dict(properties), "required": list(required)}
    if closed:
        schema["additionalProperties"] = False
    return schema


def array(items: Schema, *, max_items: int | None = None) -> Schema:
    """A list of items."""
    schema: Schema = {"type": "array", "items": items}
    if max_items is not None:
        schema["maxItems"] = max_items
    return schema


TIMESTAMP = {"type": "string", "format": "date-time"}
ERROR = component(
    "Error",
    obj(
        {
            "error": {"type": "string", "description": "A stable code such as invalid, not_found, csrf."},
            "message": {"type": "string", "description": "Translated text that can be shown as is."},
            "field": {"type": "string", "description": "The offending field, when there is one."},
        },
        ["error", "message"],
    ),
)


def claims_v1(*, without_id: bool) -> Schema:
    """The claims-v1 JSON Schema the claim validator uses, its ``$defs`` moved into the components."""
    schema = json.loads(CLAIMS_SCHEMA_PATH.read_text(encoding="utf-8"))
    defs = schema.pop("$defs", {})
    for key in ("$schema", "$id"):
        schema.pop(key, None)

    def relink(node: Any) -> Any:
        if isinstance(node, dict):
            return {
                k: ("#/components/schemas/ClaimV1_" + v.removeprefix("#/$defs/") if k == "$ref" else relink(v))
                for k, v in node.items()
            }
        if isinstance(node, list):
            return [relink(v) for v in node]
        return node

    for name, sub in defs.items():
        component(f"ClaimV1_{name}", relink(sub))
    schema = relink(schema)
    if without_id:
        schema = copy.deepcopy(schema)
        schema["required"] = [name for name in schema.get("required", []) if name != "id"]
        schema["properties"].pop("id", None)
        return component("ClaimV1New", schema)
    return component("ClaimV1", schema)


# --- the declaration ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Operation:
    """What one API view accepts and answers."""

    responses: Mapping[int, Schema | None]
    body: Schema | None = None
    query: Mapping[str, Schema] = field(default_factory=dict)
    auth: Auth = "session"
    errors: tuple[int, ...] = ()
    rate_limited: bool = False
    tags: tuple[str, ...] = ()
    summary: str = ""
    description: str = ""


def api_doc(
    *,
    responses: Mapping[int, Schema | None],
    body: Schema | None = None,
    query: Mapping[str, Schema] | None = None,
    auth: Auth = "session",
    errors: Iterable[int] = (),
    rate_limited: bool = False,
    tags: Iterable[str] = (),
) -> Callable[[F], F]:
    """Declare an API view's request and answers for the OpenAPI document.

    Put it directly under the route decorator. The summary is the view's docstring.

    :param responses: success status → JSON Schema of the answer (None: no body documented).
    :param body: JSON Schema of the request body (a JSON object), if the view reads one.
    :param query: query parameter name → schema (all optional).
    :param auth: ``public``, ``session`` (staff need TOTP too) or ``session_no_totp``.
    :param errors: error statuses beyond those implied (400 for writes and queries,
        401/403 for sessions, 404 for path parameters, 413 for bodies, 429 when rate limited).
    :param rate_limited: the view has a Flask-Limiter limit (documents 429).
    """

    def decorate(view: F) -> F:
        doc = (view.__doc__ or "").strip()
        summary, _, rest = doc.partition("\n")
        setattr(
            view,
            ATTRIBUTE,
            Operation(
                responses=dict(responses),
                body=body,
                query=dict(query or {}),
                auth=auth,
                errors=tuple(errors),
                rate_limited=rate_limited,
                tags=tuple(tags),
                summary=summary.strip(),
                description=rest.strip(),
            ),
        )
        return view

    return decorate


# --- the builder -------------------------------------------------------------------------------

_ARG = re.compile(r"<(?:[^:<>]+:)?([^<>]+)>")


def _api_rules(app: Flask) -> list[Rule]:
    return sorted(
        (rule for rule in app.url_map.iter_rules() if rule.rule.startswith(API_PREFIX)),
        key=lambda rule: (rule.rule, rule.endpoint),
    )


def undeclared_routes(app: Flask) -> list[str]:
    """Endpoints under /api/ whose view has no :func:`api_doc` declaration."""
    return [
        f"{rule.endpoint} {rule.rule}"
        for rule in _api_rules(app)
        if getattr(app.view_functions[rule.endpoint], ATTRIBUTE, None) is None
    ]


def _path_parameters(rule: Rule) -> list[Schema]:
    params = []
    for name in rule.arguments:
        converter = rule._converters.get(name)  # werkzeug keeps no public map of argument converters
        if isinstance(converter, IntegerConverter):
            schema: Schema = {"type": "integer", "minimum": 0}
        else:
            schema = {"type": "string", "minLength": 1, "maxLength": 128, "pattern": "^[^/]+$"}
        params.append({"name": name, "in": "path", "required": True, "schema": schema})
    return sorted(params, key=lambda item: rule.rule.index(f"{item['name']}>"))


def _error_statuses(op: Operation, method: str, has_path_params: bool) -> set[int]:
    statuses = set(op.errors) | {503}
    if method in {"post", "put", "patch", "delete"} or op.query:
        statuses.add(400)
    if op.body is not None:
        statuses.add(413)
    if op.auth != "public":
        statuses |= {401, 403}
    if has_path_params:
        statuses.add(404)
    if op.rate_limited:
        statuses.add(429)
    return statuses


def _operation(op: Operation, method: str, endpoint: str, has_path_params: bool) -> Schema:
    answer: Schema = {"operationId": endpoint, "summary": op.summary, "tags": list(op.tags) or [endpoint.split(".")[0]]}
    if op.description:
        answer["description"] = op.description
    if op.query:
        answer["parameters"] = [
            {"name": name, "in": "query", "required": False, "schema": schema} for name, schema in op.query.items()
        ]
    if op.body is not None:
        answer["requestBody"] = {"required": True, "content": {"application/json": {"schema": op.body}}}
    responses: dict[str, Schema] = {}
    for status, schema in sorted(op.responses.items()):
        entry: Schema = {"description": "Success."}
        if schema is not None:
            entry["content"] = {"application/json": {"schema": schema}}
        responses[str(status)] = entry
    for status in sorted(_error_statuses(op, method, has_path_params)):
        responses[str(status)] = {
            "description": ERROR_TEXT.get(status, "Refused."),
            "content": {"application/json": {"schema": ERROR}},
        }
    answer["responses"] = responses
    if op.auth == "public":
        answer["security"] = []
    else:
        answer["security"] = [{"session": [], "csrf": []}] if method != "get" else [{"session": []}]
    return answer


def build(app: Flask) -> dict[str, Any]:
    """The OpenAPI 3.1 document of every declared route under /api/."""
    spec = APISpec(
        title="reunite JSON API",
        version=API_VERSION,
        openapi_version=OPENAPI_VERSION,
        info={
            "description": (
                "Accounts, claims, notifications and the end-to-end encrypted mailbox. Binary values are "
                "base64url without padding. Writes need the X-CSRFToken header (GET /api/v1/csrf) along "
                "with the session cookie. Errors are JSON: {error, message, field?}."
            )
        },
    )
    for name, schema in sorted(_COMPONENTS.items()):
        spec.components.schema(name, schema)
    spec.components.security_scheme(
        "session", {"type": "apiKey", "in": "cookie", "name": app.config.get("SESSION_COOKIE_NAME", "session")}
    )
    spec.components.security_scheme("csrf", {"type": "apiKey", "in": "header", "name": "X-CSRFToken"})
    by_path: dict[str, tuple[list[Schema], dict[str, Schema]]] = {}
    for rule in _api_rules(app):
        op = getattr(app.view_functions[rule.endpoint], ATTRIBUTE, None)
        if op is None:
            continue
        path = _ARG.sub(r"{\1}", rule.rule)
        params, operations = by_path.setdefault(path, (_path_parameters(rule), {}))
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            operations[method.lower()] = _operation(op, method.lower(), rule.endpoint, bool(rule.arguments))
    for path, (params, operations) in by_path.items():
        spec.path(path=path, operations=operations, parameters=params)
    return spec.to_dict()


def document(app: Flask) -> dict[str, Any]:
    """The document, built once per app (the routes do not change after start-up)."""
    cached = app.extensions.get("reunite_openapi")
    if cached is None:
        cached = app.extensions["reunite_openapi"] = build(app)
    return dict(cached)
