"""HTTP resources: one module per resource, each a thin flask-smorest blueprint."""

from __future__ import annotations

from flask_smorest import Api


def register_all(api: Api, *, with_cases: bool = True) -> None:
    from server.resources import account, admin, auth, case_types, cases, devices, forms, health, push, sync

    modules = [health, auth, account, admin, devices, forms, push]
    if with_cases:  # the case engine's definitions are loaded
        modules += [case_types, cases, sync]
    for module in modules:
        api.register_blueprint(module.blp)
