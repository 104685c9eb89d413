"""HTTP resources: one module per resource, each a thin flask-smorest blueprint."""

from __future__ import annotations

from flask_smorest import Api


def register_all(api: Api) -> None:
    from server.resources import auth, devices, forms, health

    for module in (health, auth, devices, forms):
        api.register_blueprint(module.blp)
