"""Browser tests of the app at /app/: Playwright for Python driving Debian's Chromium
(/usr/bin/chromium, installed by scripts/system-packages) against a real `caseflow serve --demo`.
One server per test worker, one browser per module; each test opens its own contexts."""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from server.cli import main
from tests.support import DEMO_PASSWORD, ROOT, LiveServer

# a deployment's own form and case type, under names no shipped definition (and no app code) uses
FORM = {
    "form_id": "harbour_learning_request", "version": 1, "title": "Harbour learning request",
    "description": "An agency asks the partnership to review practice below the serious incident threshold.",
    "roles": ["agency_safeguarding_lead", "business_team"],
    "schema": {
        "$schema": "https://json-schema.org/draft/2020-12/schema", "type": "object", "additionalProperties": False,
        "required": ["requested_on", "requesting_agency", "summary", "learning_question"],
        "properties": {
            "requested_on": {"type": "string", "format": "date", "maxLength": 10, "title": "Date of the request",
                             "x-not-future": True},
            "requesting_agency": {"type": "string", "minLength": 1, "maxLength": 64, "pattern": "^[a-z0-9][a-z0-9-]*$",
                                  "x-pattern-hint": "Enter an agency id, like esx-schools",
                                  "title": "Requesting agency"},
            "summary": {"type": "string", "minLength": 1, "maxLength": 4000, "title": "What happened (no names)"},
            "learning_question": {"type": "string", "minLength": 1, "maxLength": 2000,
                                  "title": "What should we learn?"},
        },
    },
    "ui_schema": {"sections": [{"id": "request", "title": "The request",
                                "fields": ["requested_on", "requesting_agency", "summary", "learning_question"]}],
                  "fields": {"summary": {"widget": "textarea"}, "learning_question": {"widget": "textarea"}}},
    "examples": {"valid": [{"requested_on": "2025-05-02", "requesting_agency": "esx-schools",
                            "summary": "Absences were not shared.", "learning_question": "How is attendance shared?"}],
                 "invalid": [{"final": True, "errors": ["/summary"],
                              "data": {"requested_on": "2025-05-02", "requesting_agency": "esx-schools",
                                       "learning_question": "How is attendance shared?"}}]},
}
CASE_TYPE = """case_type: harbour_learning_review
version: 1
title: Harbour learning review
description: A partnership's own learning review, unknown to the app's code.
states:
  requested:
    initial: true
    title: Requested
    forms:
      harbour_learning_request: [agency_safeguarding_lead, business_team]
    notify:
      - roles: [business_team]
  in_review:
    title: In review
  closed:
    final: true
    title: Closed
transitions:
  - event: accept_request
    title: Accept the request for a learning review
    from: requested
    to: in_review
    roles: [business_team]
    requires_forms: [harbour_learning_request]
  - event: close_review
    title: Close the review
    from: [requested, in_review]
    to: closed
    roles: [business_team]
"""


def write_deployment(defs: Path) -> Path:
    (defs / "forms").mkdir(parents=True)
    (defs / "case_types").mkdir()
    (defs / "forms" / "harbour_learning_request.v1.json").write_text(json.dumps(FORM, indent=1))
    (defs / "case_types" / "harbour_learning_review.yaml").write_text(CASE_TYPE)
    published = CliRunner().invoke(main, ["forms", "publish", "--definitions", str(defs)])
    assert published.exit_code == 0, published.output
    return defs


CHROMIUM = os.environ.get("CASEFLOW_CHROMIUM", "/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
SHOTS = ROOT / "docs" / "screenshots"
AXE = ROOT / "clients" / "web" / "node_modules" / "axe-core" / "axe.min.js"
PHONE = {"width": 375, "height": 812}
TABLET = {"width": 820, "height": 1180}


def _require_chromium() -> None:
    if not (Path(CHROMIUM).exists() or shutil.which("chromium")):
        pytest.fail(f"Chromium is missing at {CHROMIUM}: run `bash scripts/system-packages` (README command 2 does)")


@pytest.fixture(scope="session")
def server(tmp_path_factory):
    """caseflow serve --demo with a deployment's own definitions directory (a case type the app's
    code has never seen), push to loopback allowed; one per test worker."""
    defs = write_deployment(tmp_path_factory.mktemp("deployment") / "defs")
    env = {"CASEFLOW_DEFINITIONS_DIR": str(defs), "CASEFLOW_PUSH_ALLOW_HTTP_LOOPBACK": "1"}
    srv = LiveServer(tmp_path_factory.mktemp("app") / "data", env=env).start(timeout=180)
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def browser():
    _require_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


def new_page(browser, viewport=None):
    context = browser.new_context(viewport=viewport or TABLET, locale="en-GB")
    context.set_default_timeout(60_000)  # the suite shares 2 cores: a generous bound, not a timing
    return context, context.new_page()


def wait_until(page, predicate: str, timeout: float = 60.0) -> None:
    """Poll an (async) JS predicate until it is true. Playwright's wait_for_function takes the
    promise an async predicate returns as a truthy answer and returns at once, so it cannot wait on
    IndexedDB; this evaluates the predicate to its value every quarter second."""
    deadline = time.monotonic() + timeout  # a bound on a wait, not a timing assertion
    while not page.evaluate(predicate):
        if time.monotonic() > deadline:
            raise AssertionError(f"still false after {timeout:.0f} s: {predicate}")
        time.sleep(0.25)


def login(page, base: str, username: str, photograph: bool = False) -> None:
    page.goto(base + "/app/")
    if photograph:
        page.get_by_label("Username").wait_for()
        screen(page, "login")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.get_by_role("heading", name="My cases").wait_for()
    # the service worker controls the page once it is installed: the shell is cached from then on
    page.wait_for_function("() => navigator.serviceWorker.controller !== null", timeout=30_000)


# the innermost elements whose right edge is past the window's, the first five in document order
STICKING_OUT = """() => [...document.querySelectorAll('body *')]
  .filter((e) => e.getBoundingClientRect().right > window.innerWidth + 0.5
                 && ![...e.children].some((c) => c.getBoundingClientRect().right > window.innerWidth + 0.5))
  .slice(0, 5).map((e) => `${e.tagName.toLowerCase()}.${e.className} ${Math.round(e.getBoundingClientRect().right)}px: `
                          + e.textContent.trim().slice(0, 30))"""


def shot(page, name: str) -> None:
    """docs/screenshots/NAME-375.png and NAME-820.png: the screen at phone and at tablet width, neither
    wider than the screen."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    was = dict(page.viewport_size)
    wide = {}
    for size in (PHONE, TABLET):
        page.set_viewport_size(size)
        page.screenshot(path=str(SHOTS / f"{name}-{size['width']}.png"), full_page=True)
        if page.evaluate("document.documentElement.scrollWidth") > size["width"]:
            wide[size["width"]] = page.evaluate(STICKING_OUT)
    page.set_viewport_size(was)
    # reflow (WCAG 1.4.10): the page never scrolls sideways; a wide table scrolls in its own region
    assert not wide, f"{name} is wider than the screen, at width: what sticks out {wide}"


def screen(page, name: str) -> None:
    """Photograph a screen at both widths and check it with axe (at the test's own width)."""
    shot(page, name)
    assert_accessible(page, name)


def axe_serious(page) -> list[dict]:
    """axe-core (from npm, clients/web/node_modules) run in the page: serious or critical violations."""
    if not AXE.exists():
        pytest.fail(f"{AXE} is missing: run `npm ci` in clients/web")
    page.evaluate(AXE.read_text())  # evaluate, not a script tag: the app's CSP forbids inline script
    result = page.evaluate("axe.run(document, {runOnly: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa', "
                           "'best-practice']})")
    bad = [v for v in result["violations"] if v["impact"] in ("serious", "critical")]
    return [{"id": v["id"], "impact": v["impact"], "nodes": [n["target"] for n in v["nodes"]][:5]} for v in bad]


TARGETS = """() => [...document.querySelectorAll(
    'button, select, textarea, input:not([type=hidden]):not([type=radio]):not([type=checkbox]), header.top a, '
    + '.radio label, .checkbox label')]
  .filter((e) => e.offsetParent !== null)
  .map((e) => ({ what: `${e.tagName.toLowerCase()} ${e.id || e.textContent.trim().slice(0, 40)}`,
                 height: e.getBoundingClientRect().height }))
  .filter((t) => t.height < 44)"""


def assert_targets(page, screen: str) -> None:
    """docs/app.md: every button, field, header link and radio or checkbox (its label) is 44 px high or more."""
    small = page.evaluate(TARGETS)
    assert not small, f"targets under 44 px on {screen}: {small}"


def assert_accessible(page, screen: str) -> None:
    bad = axe_serious(page)
    assert not bad, f"axe on {screen}: {json.dumps(bad)}"
