"""Strict input: no control characters anywhere, and no JSON field the API does not document. No Flask here.

``control_character_fields`` names every field whose text holds a character that no form or API field takes: NUL
and the other C0 controls, DEL and the C1 controls. Line breaks and tabs are allowed only in body fields (the long
texts: a request, facts and reasons, an opinion...), never in a path segment, a query parameter or a file name.

``unknown_fields`` walks a JSON body along its OpenAPI schema and names every member the schema does not declare
(``additionalProperties`` must say ``true`` to allow them). A ``oneOf`` with a ``discriminator`` (the staff
actions) is checked against the variant the discriminator picks.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

_ANY_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_CONTROL_BUT_LINES = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def has_control_characters(text: str, *, multiline: bool) -> bool:
    return bool((_CONTROL_BUT_LINES if multiline else _ANY_CONTROL).search(text))


def control_character_fields(items: Iterable[tuple[str, Any]], *, multiline: bool, prefix: str = "") -> list[str]:
    """The names (``a.b[0].c`` for nested JSON) of the values in ``items`` that hold a forbidden character."""
    found: list[str] = []
    for name, value in items:
        path = f"{prefix}{name}"
        if has_control_characters(str(name), multiline=False):
            found.append(path)
        elif isinstance(value, str):
            if has_control_characters(value, multiline=multiline):
                found.append(path)
        elif isinstance(value, Mapping):
            found += control_character_fields(value.items(), multiline=multiline, prefix=f"{path}.")
        elif isinstance(value, list):
            found += control_character_fields(
                ((f"[{i}]", v) for i, v in enumerate(value)), multiline=multiline, prefix=path
            )
    return found


def unknown_fields(value: Any, schema: Mapping | None, schemas: Mapping[str, Mapping], path: str = "") -> list[str]:
    """The members of ``value`` that ``schema`` does not declare (``path`` names them, ``a.b[0].c``)."""
    schema = _resolve(schema, schemas)
    if not schema:
        return []
    if "oneOf" in schema:
        variant = _pick_variant(value, schema, schemas)
        return unknown_fields(value, variant, schemas, path) if variant is not None else []
    found: list[str] = []
    if isinstance(value, Mapping) and "properties" in schema:
        properties = schema["properties"]
        extra = schema.get("additionalProperties", False)
        for key, member in value.items():
            name = f"{path}.{key}" if path else str(key)
            if key in properties:
                found += unknown_fields(member, properties[key], schemas, name)
            elif extra is False:
                found.append(name)
            elif isinstance(extra, Mapping):
                found += unknown_fields(member, extra, schemas, name)
    elif isinstance(value, list) and isinstance(schema.get("items"), Mapping):
        for i, item in enumerate(value):
            found += unknown_fields(item, schema["items"], schemas, f"{path}[{i}]")
    return found


def _resolve(schema: Mapping | None, schemas: Mapping[str, Mapping]) -> Mapping | None:
    while isinstance(schema, Mapping) and "$ref" in schema:
        schema = schemas.get(schema["$ref"].rsplit("/", 1)[-1])
    return schema


def _pick_variant(value: Any, schema: Mapping, schemas: Mapping[str, Mapping]) -> Mapping | None:
    discriminator = (schema.get("discriminator") or {}).get("propertyName")
    if not discriminator or not isinstance(value, Mapping):
        return None
    chosen = value.get(discriminator)
    for option in schema["oneOf"]:
        option = _resolve(option, schemas) or {}
        declared = (option.get("properties") or {}).get(discriminator) or {}
        if declared.get("const") == chosen or chosen in (declared.get("enum") or ()):
            return option
    return None
