"""The pull feed decides from an entry's key alone (``store.scan_changes``) whether it can concern
the caller, and skips the rest unread. That must change nothing but the cost: for every demo user,
paging the feed with the key filter gives exactly what paging it with a filter that keeps
everything gives (the unfiltered path then decides per parsed document, as it always did)."""

from __future__ import annotations

import threading

import pytest
from werkzeug.serving import make_server

from server.app import create_app
from server.config import Settings
from server.demo import USERS, load_demo
from tests.server.walks import AGENCIES, Walk, referral, to_pre_publication
from tests.support import DEMO_PASSWORD


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    settings = Settings(data_dir=tmp_path_factory.mktemp("feedskip") / "data", demo=True,
                        demo_password=DEMO_PASSWORD)
    flask_app = create_app(settings)
    services = flask_app.extensions["caseflow"]
    load_demo(services.accounts, DEMO_PASSWORD)
    http = make_server("127.0.0.1", 0, flask_app, threaded=True)
    threading.Thread(target=http.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{http.server_port}"
    # a deep case with every agency's return, alerts and approvals; a fresh one; one per agency
    (deep := Walk(url)).open()
    to_pre_publication(deep)
    for agency in AGENCIES.values():
        Walk(url).open(user="esx.business", data=referral(agencies=[agency]))
    yield services
    http.shutdown()
    services.store.close()


def _all_pages(feed, actor, limit):
    cursor, out = None, []
    while True:
        page = feed.pull(actor, cursor, limit)
        out += page["changes"]
        cursor = page["cursor"]
        if not page["has_more"]:
            return out, cursor


@pytest.mark.parametrize("username", [u[0] for u in USERS])
@pytest.mark.parametrize("limit", [1, 7, 500])
def test_skipping_by_key_changes_nothing_but_the_cost(app, username, limit):
    actor = app.accounts.actor_for(app.accounts.user_by_username(username), device_id="feed-skip-device")
    feed = app.feed
    filtered, cursor = _all_pages(feed, actor, limit)
    keep_all = feed._keeper
    feed._keeper = lambda *_a: (lambda collection, doc_id, deleted: True)
    try:
        unfiltered, cursor_unfiltered = _all_pages(feed, actor, limit)
    finally:
        feed._keeper = keep_all
    assert filtered == unfiltered
    assert feed.decode_cursor(cursor)[0] == feed.decode_cursor(cursor_unfiltered)[0]
    if username in ("esx.business", "esx.crg", "esx.la-lead", *AGENCIES):
        assert any(c["entity"] == "case" for c in filtered), "these users see the cases made above"


def test_a_document_rewritten_while_a_page_is_read_appears_once_at_its_newer_version(app, monkeypatch):
    """A page is read in several scans without holding the store. Another writer that rewrites a
    document the page already holds moves it to a later seq, where the next scan meets it again:
    the page must carry it once, at the newer version (the PostgreSQL CI run caught this)."""
    actor = app.accounts.actor_for(app.accounts.user_by_username("esx.business"), device_id="feed-race-device")
    store, feed = app.store, app.feed
    monkeypatch.setattr("sync.feed.SCAN_BATCH", 2)
    real_scan = store.scan_changes
    rewritten: list[tuple[str, str, int]] = []

    def scan_then_rewrite(after_seq, limit, keep):
        batch, scanned = real_scan(after_seq, limit, keep)
        if not rewritten:
            case = next((d for d in batch if d.collection == "cases"), None)
            if case is not None:
                with store.transaction() as uow:  # the other writer, between two scans of one page
                    new = uow.update("cases", case.id, dict(case.data), expected_version=case.version, publish=True)
                rewritten.append(("case", case.id, new.version))
        return batch, scanned

    monkeypatch.setattr(store, "scan_changes", scan_then_rewrite)
    page = feed.pull(actor, None, 500)
    assert rewritten, "the scans met a case to rewrite"
    keys = [(c["entity"], c["id"]) for c in page["changes"]]
    assert len(keys) == len(set(keys))
    entity, case_id, version = rewritten[0]
    [case] = [c for c in page["changes"] if (c["entity"], c["id"]) == (entity, case_id)]
    assert case["version"] == version
