"""ui_schema format 2: the served ``ui_schema`` rewritten in the conventions of RJSF's ``uiSchema``.

Format 1 (the definition files' ``ui_schema``) keys fields by dotted paths (``chronology[].date``)
and groups top-level fields into ``sections``. Format 2 is the tree RJSF (react-jsonschema-form)
reads directly: one nested object per property, ``items`` for array rows, ``ui:`` keys
(``ui:widget``, ``ui:help``, ``ui:enumNames``, ``ui:order``, ``ui:options``). What RJSF has no
convention for stays a ``ui:`` key of its own, which RJSF hands to templates as an option:
``ui:sections`` (root), ``ui:showIf`` (a condition on a sibling field, or on a JSON Pointer from
the form's root), ``ui:addLabel`` and ``ui:columns``. It is derived from format 1, so every
definition file, a deployment's own included, is served in both (docs/decisions/0019).
"""

from __future__ import annotations

from typing import Any

FORMAT = 2

# format-1 widget -> RJSF uiSchema entries (None: RJSF's default for the schema type is right)
_WIDGETS: dict[str, dict[str, Any] | None] = {
    "text": None, "date": None, "number": None, "group": None, "table": None, "repeat": None, "tags": None,
    "textarea": {"ui:widget": "textarea"},
    "select": {"ui:widget": "select"},
    "radio": {"ui:widget": "radio"},
    "checkbox": {"ui:widget": "checkbox"},
    "checkboxes": {"ui:widget": "checkboxes"},
    "email": {"ui:widget": "email"},
    "url": {"ui:widget": "uri"},
    "tel": {"ui:options": {"inputType": "tel"}},
    "hidden": {"ui:widget": "hidden"},
}


def _segments(path: str) -> list[str]:
    """``chronology[].date`` -> ``["chronology", "items", "date"]`` (the uiSchema nesting)."""
    out: list[str] = []
    for part in path.split("."):
        if part.endswith("[]"):
            out += [part[:-2], "items"]
        else:
            out.append(part)
    return out


def _parent(path: str) -> str:
    return path.rsplit(".", 1)[0] if "." in path else ""


def _condition(cond: dict[str, Any], field_path: str) -> dict[str, Any]:
    """A format-1 ``show_if`` with each field path made a sibling key (same object as the shown
    field) or, when it lives elsewhere, a JSON Pointer from the form's root (``/a/b``)."""
    if "all" in cond or "any" in cond:
        key = "all" if "all" in cond else "any"
        return {key: [_condition(c, field_path) for c in cond[key]]}
    other = str(cond.get("field", ""))
    if _parent(other) == _parent(field_path):
        ref = other.rsplit(".", 1)[-1].removesuffix("[]")
    else:
        ref = "/" + "/".join(p for p in _segments(other) if p != "items")
    out = {"field": ref}
    if "equals" in cond:
        out["equals"] = cond["equals"]
    if "in" in cond:
        out["in"] = list(cond["in"])
    return out


def _node(tree: dict[str, Any], path: str) -> dict[str, Any]:
    node = tree
    for seg in _segments(path):
        node = node.setdefault(seg, {})
    return node


def _enum_of(schema: dict[str, Any], path: str) -> list[Any] | None:
    node: Any = schema
    for seg in _segments(path):
        if not isinstance(node, dict):
            return None
        node = node.get("items") if seg == "items" else (node.get("properties") or {}).get(seg)
    if isinstance(node, dict) and node.get("type") == "array" and isinstance(node.get("items"), dict):
        node = node["items"]  # checkboxes: the labels are the items' choices
    return node.get("enum") if isinstance(node, dict) else None


def _humanise(code: Any) -> str:
    text = str(code).replace("_", " ")
    return text[:1].upper() + text[1:]


def _walk(schema: Any, node: dict[str, Any]) -> None:
    """Every object gets its ``ui:order`` (JSON carriers may sort keys; the order is the form's)
    and every choice without labels gets readable ones (``not_known`` -> "Not known")."""
    if not isinstance(schema, dict):
        return
    props = schema.get("properties")
    if isinstance(props, dict):
        node.setdefault("ui:order", [*props, "*"])
        for key, sub in props.items():
            child = node.setdefault(key, {})
            _walk(sub, child)
            if not child:
                node.pop(key)
    items = schema.get("items")
    if schema.get("type") == "array" and isinstance(items, dict):
        if isinstance(items.get("enum"), list):
            node.setdefault("ui:enumNames", [_humanise(v) for v in items["enum"]])
        else:
            child = node.setdefault("items", {})
            _walk(items, child)
            if not child:
                node.pop("items")
    if isinstance(schema.get("enum"), list) and all(isinstance(v, str) for v in schema["enum"]):
        node.setdefault("ui:enumNames", [_humanise(v) for v in schema["enum"]])


def to_rjsf(ui_schema: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    """The format-2 (RJSF) uiSchema of a format-1 ``ui_schema`` and its JSON schema."""
    tree: dict[str, Any] = {"ui:submitButtonOptions": {"norender": True}}
    sections = ui_schema.get("sections") or []
    if sections:
        order = [f for s in sections for f in s.get("fields", [])]
        rest = [k for k in (schema.get("properties") or {}) if k not in order]
        tree["ui:order"] = [*dict.fromkeys(order), *rest, "*"]
        tree["ui:sections"] = [{k: s[k] for k in ("id", "title", "fields", "help") if k in s} for s in sections]
    for path, spec in (ui_schema.get("fields") or {}).items():
        if not isinstance(spec, dict):
            continue
        node = _node(tree, path)
        for key, value in (_WIDGETS.get(spec.get("widget") or "text") or {}).items():
            node[key] = dict(value) if isinstance(value, dict) else value
        if spec.get("help"):
            node["ui:help"] = spec["help"]
        labels = spec.get("enum_labels")
        enum = _enum_of(schema, path) if labels else None
        if labels and enum:
            target = node.setdefault("items", {}) if spec.get("widget") == "checkboxes" else node
            target["ui:enumNames"] = [str(labels.get(str(v), v)) for v in enum]
            if target is not node:  # RJSF reads a checkboxes widget's labels from the field itself
                node["ui:enumNames"] = target.pop("ui:enumNames")
                if not target:
                    node.pop("items")
        if spec.get("show_if"):
            node["ui:showIf"] = _condition(spec["show_if"], path)
        if spec.get("add_label"):
            node["ui:addLabel"] = spec["add_label"]
        if spec.get("columns"):
            node["ui:columns"] = list(spec["columns"])
    _walk(schema, tree)
    return tree
