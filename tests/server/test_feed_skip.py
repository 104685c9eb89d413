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
