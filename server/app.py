"""The Flask application factory: the composition root of caseflow."""

from __future__ import annotations

import logging
import time
from pathlib import Path

from flask import Flask, g, request, send_from_directory
from flask_smorest import Api, Blueprint
from werkzeug.exceptions import HTTPException

from server import metrics
from server.admin.handlers import ADMIN_HANDLERS, backfill_lookups
from server.admin.operator import operator_secret
from server.auth.accounts import Accounts
from server.auth.throttle import LoginThrottle, SQLiteThrottleStore, ThrottlePolicy
from server.auth.tokens import init_jwt
from server.config import Settings
from server.definitions import load_definitions
from server.edge import TrustedProxies, parse_networks, request_id_for, security_headers
from server.jsonbody import StrictParser, is_json_mimetype
from server.openapi import ContractApiMixin, ContractPlugin
from server.openapi import install as install_contract
from server.problems import Problem, flatten_marshmallow, invalid, problem_response
from server.resources import register_all  # resources name Services via server.services: no circle
from server.secrets_store import load_or_create_secret
from server.services import Services
from store import Store, StoreError, open_store
from sync.clock import Clock
from sync.feed import Feed
from sync.service import WritePath
from sync.views import Reader

log = logging.getLogger("caseflow.http")
DOCS_ASSETS = "/api/v1/docs/assets/"
STATIC = Path(__file__).parent / "static"

# flask-smorest parses bodies with webargs; make it read our strict parse
Blueprint.ARGUMENTS_PARSER = StrictParser()


class ProblemApi(ContractApiMixin, Api):
    """flask-smorest Api whose every HTTP error is RFC 9457 problem+json."""

    def handle_http_exception(self, error: HTTPException):
        data = getattr(error, "data", None) or {}
        status = error.code or 500
        if status == 422 and "messages" in data:
            errors = []
            for location, messages in data["messages"].items():
                for item in flatten_marshmallow(messages):
                    item["path"] = item["path"].replace("/_schema", "") or ""
                    if location != "json":
                        item["in"] = location
                    errors.append(item)
            return problem_response(invalid(errors))
        if status == 400 and "messages" in data:
            return problem_response(Problem(400, "malformed-json", "The request body is not valid JSON."))
        if status >= 500:
            log.error("unhandled error", extra={"request_id": g.get("request_id"), "status": status},
                      exc_info=getattr(error, "original_exception", None) is not None)
            return problem_response(Problem(500, "internal-error",
                                            "Something went wrong on the server. The request id identifies it.",
                                            request_id=g.get("request_id")))
        detail = {
            404: "There is nothing at this address.",
            405: f"{request.method} is not allowed here.",
            413: "The request body is larger than this server accepts.",
            415: "Send the body as application/json.",
        }.get(status, error.description or error.name)
        headers = {}
        if status == 405 and hasattr(error, "valid_methods") and error.valid_methods:
            headers["Allow"] = ", ".join(error.valid_methods)
        return problem_response(Problem(status, error.name.lower().replace(" ", "-"), detail, headers=headers))


def load_case_types():
    """The shipped case-type registry (kept for bench/sync.py); the server uses load_definitions."""
    return load_definitions(None)[1]


def create_app(settings: Settings | None = None, *, store: Store | None = None, clock: Clock | None = None) -> Flask:
    settings = settings or Settings.from_env()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    app = Flask("caseflow")
    app.config.update(
        MAX_CONTENT_LENGTH=settings.max_body_bytes,
        API_TITLE="caseflow",
        API_VERSION="v1",
        OPENAPI_VERSION="3.1.0",
        OPENAPI_URL_PREFIX="/api/v1",
        OPENAPI_JSON_PATH="openapi.json",
        OPENAPI_REDOC_PATH="docs",
        # vendored in the package (server/static/redoc/VERSION.md): the docs work offline, no CDN script
        OPENAPI_REDOC_URL=DOCS_ASSETS + "redoc.standalone.js",
        JSON_SORT_KEYS=False,
    )
    secret = settings.jwt_secret or load_or_create_secret(settings.data_dir, "jwt.secret")
    init_jwt(app, secret, settings.jwt_issuer, settings.jwt_audience,
             settings.access_token_minutes, settings.refresh_token_days)

    clock = clock or Clock()
    store = store or open_store(settings.store_url or settings.data_dir / "store")
    # shipped definitions plus the deployment's own (CASEFLOW_DEFINITIONS_DIR); raises DefinitionsBroken
    forms, case_types = load_definitions(settings.definitions_dir)
    services = Services(
        settings=settings, store=store, clock=clock,
        accounts=Accounts(store, clock, refresh_grace_seconds=settings.refresh_grace_seconds,
                          max_devices_per_user=settings.max_devices_per_user),
        throttle=_login_throttle(settings, store),
        forms=forms, case_types=case_types,
        write_path=WritePath(store, forms, case_types, clock, extra_handlers=ADMIN_HANDLERS, observer=metrics.OBSERVER),
        reader=(reader := Reader(store, forms, case_types, clock)),
        feed=Feed(store, reader, secret) if case_types is not None else None,
    )
    services.extra["operator_secret"] = operator_secret(settings.data_dir)  # the CLI's channel (ADR 0020)
    backfill_lookups(store)  # users and agencies written before the pickers' look-ups existed
    app.extensions["caseflow"] = services

    api = ProblemApi(app, spec_kwargs={
        "info": {"description": "Offline-first statutory case work. Errors are RFC 9457 problem+json."},
        "components": {"securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}}},
        "extra_plugins": [ContractPlugin()],
    })
    install_contract(api)  # Problem and response schemas, the push's oneOf (server/openapi.py)
    app.wsgi_app = TrustedProxies(app.wsgi_app, parse_networks(settings.trusted_proxies))
    app.add_url_rule(DOCS_ASSETS + "<path:name>", "docs_assets",
                     lambda name: send_from_directory(STATIC / "redoc", name, max_age=86_400))
    _install_request_hooks(app)
    metrics.install(app)  # /metrics, only with CASEFLOW_METRICS_TOKEN
    _install_error_handlers(app)

    register_all(api, with_cases=case_types is not None)
    from server.webapp import bp as webapp

    app.register_blueprint(webapp)  # the built web client at /app/
    return app


def _login_throttle(settings: Settings, store: Store) -> LoginThrottle:
    policy = ThrottlePolicy(
        free_failures=settings.login_max_failures, base_delay=settings.login_delay_base_seconds,
        max_delay=settings.login_delay_max_seconds, address_max_failures=settings.login_address_max_failures,
        window=settings.login_window_seconds)
    key = load_or_create_secret(settings.data_dir, "throttle.key").encode()
    if getattr(store, "url", None):  # the PostgreSQL store: counters shared by every process on every host
        from server.auth.throttle_pg import PostgresThrottleStore

        return LoginThrottle(PostgresThrottleStore(store), key, policy)
    return LoginThrottle(SQLiteThrottleStore(settings.data_dir / "throttle.sqlite3"), key, policy)


def _install_request_hooks(app: Flask) -> None:
    # each ``request.x``/``g.x`` is a context-variable lookup through a proxy: the hooks run on every
    # request, so they resolve the request and g once
    https = app.extensions["caseflow"].settings.public_url.startswith("https://")

    @app.before_request
    def _start():
        req = request._get_current_object()
        environ = req.environ
        ctx_g = g._get_current_object()
        ctx_g.request_id = request_id_for(environ)
        ctx_g.started = time.perf_counter()
        if req.method in {"POST", "PUT", "PATCH"}:
            has_body = (req.content_length or 0) > 0 or req.headers.get("Transfer-Encoding")
            if has_body and not is_json_mimetype(req.mimetype or ""):
                raise Problem(415, "unsupported-media-type", "Send the body as application/json.")

    @app.after_request
    def _finish(response):
        req = request._get_current_object()
        ctx_g = g._get_current_object()
        request_id = ctx_g.get("request_id")
        headers = response.headers
        headers["X-Request-Id"] = request_id or ""
        security_headers(headers, mimetype=response.mimetype or "", https=https,
                         docs_page=req.endpoint == "api-docs.openapi_redoc", app_page=req.path.startswith("/app/"),
                         cache_control="no-store")
        actor = ctx_g.get("actor")
        route = req.url_rule.rule if req.url_rule else "(none)"
        status = response.status_code
        metrics.count_request(req.method, route, status)
        log.info("request", extra={
            "request_id": request_id, "method": req.method,
            "route": route, "status": status,
            "duration_ms": round((time.perf_counter() - ctx_g.get("started", time.perf_counter())) * 1000, 2),
            "user_id": actor.user_id if actor else None, "device_id": actor.device_id if actor else None,
            "client_address": req.remote_addr,  # resolved by edge.TrustedProxies
        })
        return response


def _install_error_handlers(app: Flask) -> None:
    @app.errorhandler(Problem)
    def _problem(problem: Problem):
        return problem_response(problem)

    @app.errorhandler(StoreError)
    def _store_error(exc: StoreError):
        log.error("storage error", extra={"request_id": g.get("request_id"), "problem": type(exc).__name__})
        return problem_response(Problem(503, "storage-unavailable",
                                        "The store could not complete this request; nothing was saved. Retry later."))

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):
        log.error("unhandled exception", extra={"request_id": g.get("request_id"), "problem": type(exc).__name__},
                  exc_info=True)
        return problem_response(Problem(500, "internal-error",
                                        "Something went wrong on the server. The request id identifies it.",
                                        request_id=g.get("request_id")))
