"""HTTP resources: one module per resource, each a thin flask-smorest blueprint."""

from __future__ import annotations

from flask_smorest import Api


def register_all(api: Api, *, with_cases: bool = True) -> None:
    from server.resources import auth, case_types, cases, devices, forms, health, push, sync

    modules = [health, auth, devices, forms, push]
    if with_cases:  # the case engine's definitions are loaded
        modules += [case_types, cases, sync]
    modules += partnership_modules(with_cases)
    for module in modules:
        api.register_blueprint(module.blp)


def partnership_modules(with_cases: bool) -> list:
    """Running a partnership (issue #12): administration, pickers, oversight, exports, documents."""
    from server.resources import account, admin, lookups

    modules = [account, admin, lookups]
    if with_cases:
        from server.resources import documents, exports, oversight

        modules += [oversight, exports, documents]
    return modules
