"""Validation of --json output against the JSON Schemas in docs/json-schema/.

Uses the jsonschema package when Python has it (Debian: python3-jsonschema);
otherwise the subset of JSON Schema 2020-12 that those schemas use: type,
properties, required, additionalProperties, items, enum, const, minimum,
pattern, anyOf, oneOf and local $ref. Both report the path to the bad value.
"""
import json
import os
import re

SCHEMA_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "docs", "json-schema")

try:
    import jsonschema  # noqa: F401
except ImportError:
    jsonschema = None

_TYPES = {
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "string": lambda v: isinstance(v, str),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
    "boolean": lambda v: isinstance(v, bool),
    "null": lambda v: v is None,
}


def schema_path(command):
    """docs/json-schema/<command words joined by '-'>.schema.json"""
    return os.path.join(SCHEMA_DIR, command.replace(" ", "-") + ".schema.json")


def load(command):
    with open(schema_path(command)) as f:
        return json.load(f)


def _errors(value, schema, root, where):
    if "$ref" in schema:
        ref = schema["$ref"]
        if not ref.startswith("#/"):
            raise ValueError(f"only local $ref is supported, not {ref}")
        target = root
        for part in ref[2:].split("/"):
            target = target[part]
        yield from _errors(value, target, root, where)
    types = schema.get("type")
    if types is not None:
        types = [types] if isinstance(types, str) else types
        if not any(_TYPES[t](value) for t in types):
            yield f"{where}: {json.dumps(value)[:80]} is not of type {' or '.join(types)}"
            return
    if "const" in schema and value != schema["const"]:
        yield f"{where}: {value!r} is not {schema['const']!r}"
    if "enum" in schema and value not in schema["enum"]:
        yield f"{where}: {value!r} is not one of {schema['enum']}"
    if "minimum" in schema and _TYPES["number"](value) and value < schema["minimum"]:
        yield f"{where}: {value} is less than {schema['minimum']}"
    if "pattern" in schema and isinstance(value, str) and not re.search(schema["pattern"], value):
        yield f"{where}: {value!r} does not match {schema['pattern']}"
    if isinstance(value, dict):
        for key in schema.get("required", []):
            if key not in value:
                yield f"{where}: '{key}' is a required property"
        props = schema.get("properties", {})
        for key, v in value.items():
            if key in props:
                yield from _errors(v, props[key], root, f"{where}.{key}")
            elif schema.get("additionalProperties") is False:
                yield f"{where}: additional property '{key}' is not allowed"
            elif isinstance(schema.get("additionalProperties"), dict):
                yield from _errors(v, schema["additionalProperties"], root, f"{where}.{key}")
    if isinstance(value, list) and "items" in schema:
        for i, v in enumerate(value):
            yield from _errors(v, schema["items"], root, f"{where}[{i}]")
    for keyword in ("anyOf", "oneOf"):
        if keyword in schema:
            matches = sum(1 for s in schema[keyword] if not list(_errors(value, s, root, where)))
            if matches == 0 or (keyword == "oneOf" and matches > 1):
                yield f"{where}: matches {matches} of the {keyword} alternatives"


def errors(value, schema):
    """A list of problems, empty when `value` is valid."""
    if jsonschema is not None:
        validator = jsonschema.Draft202012Validator(schema)
        return [f"$.{'.'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(value)]
    return list(_errors(value, schema, schema, "$"))
