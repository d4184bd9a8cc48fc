"""The OpenAPI 3.1 document, generated from the declared operations."""

from __future__ import annotations

import re
import typing

from flask import current_app, jsonify
from pydantic import BaseModel

from tcma.api import OPERATIONS, Operation, blueprint

_PARAM = re.compile(r"<(?:([a-z]+):)?([a-z_]+)>")
#: Path parameter schemas by Werkzeug converter; anything else is a string.
_CONVERTER_SCHEMAS = {"int": {"type": "integer", "minimum": 0}, "float": {"type": "number"}}

PROBLEM = {
    "type": "object",
    "required": ["title", "status", "detail"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["field", "message"],
                "properties": {"field": {"type": "string"}, "message": {"type": "string"}},
            },
        },
    },
}


def _schema_ref(model: typing.Any, components: dict) -> dict:
    origin = typing.get_origin(model)
    if origin is list:
        (inner,) = typing.get_args(model)
        return {"type": "array", "items": _schema_ref(inner, components)}
    if isinstance(model, type) and issubclass(model, BaseModel):
        schema = model.model_json_schema(ref_template="#/components/schemas/{model}",
                                         mode="serialization")
        for name, sub in schema.pop("$defs", {}).items():
            components[name] = sub
        components[model.__name__] = schema
        return {"$ref": f"#/components/schemas/{model.__name__}"}
    raise TypeError(f"cannot describe {model!r}")


def _input_ref(model: type[BaseModel], components: dict) -> dict:
    schema = model.model_json_schema(ref_template="#/components/schemas/{model}",
                                     mode="validation")
    for name, sub in schema.pop("$defs", {}).items():
        components[name] = sub
    components[model.__name__] = schema
    return {"$ref": f"#/components/schemas/{model.__name__}"}


def _multipart(op: Operation, components: dict) -> dict:
    """A multipart body: the file fields, plus the text fields of ``op.form`` if any."""
    properties: dict = {name: {"type": "string", "format": "binary", "description": desc}
                        for name, desc in op.multipart.items()}
    required = list(op.multipart)
    if op.form is not None:
        schema = op.form.model_json_schema(ref_template="#/components/schemas/{model}",
                                           mode="validation")
        for name, sub in schema.pop("$defs", {}).items():
            components[name] = sub
        properties.update(schema.get("properties", {}))
        required += [name for name in schema.get("required", []) if name not in required]
    return {"type": "object", "required": required, "properties": properties}


def _success(op: Operation, components: dict) -> dict:
    """The documented answer for a success status: JSON, binary, a redirect, or no body."""
    if op.location is not None:
        return {"description": "Redirect.", "headers": {"Location": {
            "description": op.location, "required": True,
            "schema": {"type": "string", "format": "uri"}}}}
    if op.binary is not None:
        return {"description": "OK", "content": {op.binary: {
            "schema": {"type": "string", "format": "binary", "contentMediaType": op.binary}}}}
    if op.response is None:
        return {"description": "Done."}
    return {"description": "OK",
            "content": {"application/json": {"schema": _schema_ref(op.response, components)}}}


def build_document() -> dict:
    components: dict = {"Problem": PROBLEM}
    paths: dict = {}
    for op in OPERATIONS:
        path = "/api/v1" + _PARAM.sub(r"{\2}", op.rule)
        item: dict = {
            "operationId": op.endpoint.removeprefix("api."),
            "summary": op.summary,
            "tags": [op.tag],
            "responses": {},
        }
        if op.description:
            item["description"] = op.description
        params = [
            {"name": name, "in": "path", "required": True,
             "schema": dict(_CONVERTER_SCHEMAS.get(converter, {"type": "string"}))}
            for converter, name in _PARAM.findall(op.rule)
        ]
        params += [
            {"name": name, "in": "query", "required": False, "schema": {"type": "string"},
             "description": desc}
            for name, desc in op.query.items()
        ]
        if params:
            item["parameters"] = params
        if op.body is not None:
            item["requestBody"] = {
                "required": True,
                "content": {"application/json": {"schema": _input_ref(op.body, components)}},
            }
        elif op.multipart:
            item["requestBody"] = {
                "required": True,
                "content": {"multipart/form-data": {"schema": _multipart(op, components)}},
            }
        for status in (op.status, *op.also_status):
            item["responses"][str(status)] = _success(op, components)
        problem = {"content": {"application/problem+json": {
            "schema": {"$ref": "#/components/schemas/Problem"}}}}
        responses = item["responses"]
        if op.body is not None:
            responses["400"] = {"description": "The body is not a JSON object.", **problem}
        if op.permission is not None:
            item["security"] = [{"bearerAuth": []}]
            responses["401"] = {
                "description": "Missing, invalid, expired or revoked token.",
                "headers": {"WWW-Authenticate": {"schema": {"type": "string"}}},
                **problem,
            }
            responses["403"] = {"description": "Your role does not allow this.", **problem}
            responses["404"] = {"description": "Not found, or not yours.", **problem}
        if op.method in ("POST", "PATCH", "PUT", "DELETE"):
            responses["409"] = {"description": "Not possible in the current state.", **problem}
        if op.multipart:
            responses["413"] = {"description": "The upload is too large.", **problem}
        for status, when in op.errors.items():
            model = op.problems.get(status)
            schema = (_schema_ref(model, components) if model is not None
                      else {"$ref": "#/components/schemas/Problem"})
            responses[str(status)] = {"description": when, "content": {
                "application/problem+json": {"schema": schema}}}
        if op.body is not None or op.multipart or op.query or 422 in op.errors:
            schema = (_schema_ref(op.problem, components) if op.problem is not None
                      else {"$ref": "#/components/schemas/Problem"})
            responses["422"] = {
                "description": op.errors.get(422, "Invalid input; each error names its field."),
                "content": {"application/problem+json": {"schema": schema}},
            }
        paths.setdefault(path, {})[op.method.lower()] = item
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "tcma API",
            "version": "1",
            "description": "Through-channel marketing automation: partners, brand profiles, "
                           "users and tokens; the co-branded asset library; tracking links, "
                           "landing pages and leads; campaign kits, contacts and launches; "
                           "market development funds. Money is always a decimal string with "
                           "its currency. Errors are RFC 9457 problem documents.",
        },
        "servers": [{"url": current_app.config["BASE_URL"].rstrip("/")}],
        "paths": paths,
        "components": {
            "schemas": components,
            "securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer"}},
        },
    }


@blueprint.get("/openapi.json")
def openapi():
    return jsonify(build_document())
