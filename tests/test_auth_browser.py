"""Sign-in, roles, display links and the audit trail in a real headless chromium (issue #18):
the app served with sign-in on and an operations store, each role signed in through the form.

- a viewer gets the map read-only; a direct upload to ``/_stcore/upload_file`` is refused by the
  server (403), and so is the audit page;
- an analyst analyses and exports (the export is an audit line); an upload of a layer that
  is the shared record (incidents) is refused and says why;
- an operator's upload goes into the shared record, and an admin in *another browser* finds it
  in the audit view's CSV with the operator's name and address;
- a display link opens the wall without a password, shows nothing but the wall, and stops when
  revoked; signing out ends the session.
"""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

from geo import audit
from geo.auth import Actor, accounts, sessions
from geo.store import open_store
from geo.web import auth
from tests.conftest import ARTIFACTS_DIR, AppServer, map_frame, settle
from tests.test_browser import _choose_layer

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser")]

PASSWORD = "a long passphrase"
USERS = {"vera": "viewer", "ana": "analyst", "olga": "operator", "root": "admin"}


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("auth-browser")
    url = f"sqlite:///{tmp / 'ops.sqlite'}"
    with open_store(url) as db:
        for name, role in USERS.items():
            accounts.add_user(db, name, role, PASSWORD, by=Actor.service("test", "admin"))
    server = AppServer(
        args=["--store", url],
        env={"CITYOPS_AUTH": "on", "CITYOPS_HOME": str(tmp / "home"), "CITYOPS_REFRESH_S": "2"},
    )
    db = open_store(url)
    yield server, db, tmp
    db.close()
    server.stop()


def _context(browser):
    return browser.new_context(viewport={"width": 1600, "height": 1000}, accept_downloads=True)


def _sign_in(page, server, user: str, next_path: str = "/") -> None:
    page.goto(f"{server.url}{next_path}", wait_until="domcontentloaded")
    page.wait_for_url("**/login?next=*")
    page.fill("#username", user)
    page.fill("#password", PASSWORD)
    page.click("#co-sign-in")
    page.wait_for_url(lambda u: "/login" not in u, timeout=60_000)
    page.wait_for_selector('[data-testid="stAppViewContainer"]', timeout=60_000)


def _incidents_file(tmp: Path, ident: str) -> Path:
    feature = {
        "type": "Feature",
        "geometry": {"type": "Point", "coordinates": [121.66, 31.145]},
        "properties": {"id": ident, "kind": "crowd", "severity": 2,
                       "reported_at": "2021-10-31T19:00:00+08:00", "name": f"Upload {ident}"},
    }  # fmt: skip
    path = tmp / f"{ident}.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": [feature]}))
    return path


def _upload(page, path: Path, expect_text: str | None = None) -> None:
    sidebar = page.locator('[data-testid="stSidebar"]')
    form = sidebar.locator('[data-testid="stForm"]').filter(has_text="Add to map")
    form.locator('input[type="file"]').wait_for(state="attached", timeout=60_000)
    _choose_layer(page, sidebar, "Incidents")
    form.get_by_text("append").click()
    form.locator('input[type="file"]').set_input_files(str(path))
    sidebar.get_by_role("heading", name="Load a layer").click()
    settle(page)
    sidebar.get_by_role("button", name="Add to map").click()
    done = expect_text or f"{path.name}: 1 incidents feature(s)"
    page.get_by_text(done).first.wait_for(timeout=60_000)


def test_a_viewer_reads_and_the_server_refuses_their_writes(browser, site):
    server, db, _ = site
    ctx = _context(browser)
    page = ctx.new_page()
    page.goto(server.url, wait_until="domcontentloaded")
    page.wait_for_url("**/login?next=*")  # nothing without signing in
    _sign_in(page, server, "vera")
    map_frame(page)
    sidebar = page.locator('[data-testid="stSidebar"]')
    expect(sidebar).to_contain_text("Signed in as vera · viewer")
    body = page.locator("body").inner_text()
    for hidden in ("Load a layer", "Export", "Draw cordon", "Compute catchments"):
        assert hidden not in body, hidden
    expect(page.get_by_text("Draw on the map")).to_have_count(0)
    # a direct write attempt, with the viewer's own session cookie: refused by the server
    r = page.request.put(
        f"{server.url}/_stcore/upload_file/abc/def",
        multipart={"file": {"name": "x.geojson", "mimeType": "application/json",
                            "buffer": b"{}"}},
    )  # fmt: skip
    assert r.status == 403
    assert page.request.get(f"{server.url}/_stcore/metrics").status == 403
    page.goto(f"{server.url}/?view=audit", wait_until="domcontentloaded")
    page.get_by_text("The audit trail is for operators and admins").wait_for(timeout=60_000)
    page.screenshot(path=str(ARTIFACTS_DIR() / "auth_viewer.png"))
    ctx.close()


def test_an_analyst_uploads_into_their_session_and_exports(browser, site):
    server, db, tmp = site
    ctx = _context(browser)
    page = ctx.new_page()
    _sign_in(page, server, "ana")
    map_frame(page)
    expect(page.locator('[data-testid="stSidebar"]')).to_contain_text("ana · analyst")
    expect(page.get_by_text("Draw on the map")).to_have_count(0)  # the shared map: operators
    # incidents are the shared record here: an analyst's upload is refused, and says why
    _upload(page, _incidents_file(tmp, "ana-1"), expect_text="needs the operator role")
    assert "ana-1" not in set(db.current("incidents")["id"])  # the shared record is unchanged
    settle(page)
    button = page.get_by_role("button", name=re.compile(r"^Incidents \(\d+\) · GeoJSON"))
    with page.expect_download() as dl:
        button.click()
    assert '"FeatureCollection"' in Path(dl.value.path()).read_text("utf-8")
    settle(page)
    exports = audit.query(db, user="ana", action="export")
    assert list(exports["target"]) == ["incidents.geojson"]
    assert list(exports["layer"]) == ["incidents"]
    ctx.close()


def test_an_operators_change_is_in_the_audit_view_of_another_browser(browser, site):
    server, db, tmp = site
    op_ctx, admin_ctx = _context(browser), _context(browser)
    op = op_ctx.new_page()
    _sign_in(op, server, "olga")
    map_frame(op)
    expect(op.get_by_text("Draw on the map")).to_have_count(1)
    _upload(op, _incidents_file(tmp, "olga-1"))
    assert "olga-1" in set(db.current("incidents")["id"])  # shared: every screen sees it
    assert op.request.get(f"{server.url}/_stcore/metrics").status == 403

    admin = admin_ctx.new_page()
    _sign_in(admin, server, "root", "/?view=audit")
    admin.get_by_role("heading", name="Audit trail").wait_for(timeout=60_000)
    assert admin.request.get(f"{server.url}/_stcore/metrics").status == 200
    with admin.expect_download() as dl:
        admin.get_by_role("button", name="Audit trail · CSV").click()
    rows = list(csv.DictReader(io.StringIO(Path(dl.value.path()).read_text("utf-8"))))
    change = [r for r in rows if r["target"] == "olga-1"]
    assert [(r["user"], r["action"], r["detail"]) for r in change] == [
        ("olga", "incident", "upload:olga-1.geojson")
    ]
    assert change[0]["client"] == "127.0.0.1" and change[0]["session"]
    sign_in = next(r for r in rows if r["user"] == "olga" and r["action"] == "sign_in")
    assert change[0]["session"] == sign_in["session"]  # the same sign-in, seen by both sides
    users_signed_in = {r["user"] for r in rows if r["action"] == "sign_in"}
    assert {"olga", "root"} <= users_signed_in
    admin.screenshot(path=str(ARTIFACTS_DIR() / "auth_audit_view.png"))
    op_ctx.close()
    admin_ctx.close()


def test_a_display_link_shows_the_wall_until_revoked(browser, site):
    server, db, _ = site
    link, token = sessions.create_wall_link(db, "hall", by=Actor.service("test", "admin"))
    ctx = _context(browser)
    page = ctx.new_page()
    page.goto(f"{server.url}/wall/{token}", wait_until="domcontentloaded")
    page.wait_for_url("**/?view=wall")
    page.locator(".co-bar").wait_for(timeout=60_000)
    # the link shows the wall and nothing else, whatever the URL asks for
    page.goto(f"{server.url}/?view=analyst", wait_until="domcontentloaded")
    page.locator(".co-bar").wait_for(timeout=60_000)
    assert "Load a layer" not in page.locator("body").inner_text()
    sessions.revoke_wall_link(db, link.link_id, by=Actor.service("test", "admin"))
    page.get_by_text("display link is no longer valid").wait_for(timeout=30_000)
    # the server re-reads a session at most every few seconds: after that, no way back in
    page.wait_for_timeout(auth._CACHE_S * 1000 + 500)
    page.goto(f"{server.url}/?view=wall", wait_until="domcontentloaded")
    page.wait_for_url("**/login?next=*")
    ctx.close()


def test_signing_out_ends_the_session(browser, site):
    server, db, _ = site
    ctx = _context(browser)
    page = ctx.new_page()
    _sign_in(page, server, "olga")
    page.locator("#co-sign-out").click()
    page.wait_for_url("**/login?out=1")
    expect(page.locator("body")).to_contain_text("You have signed out.")
    page.goto(server.url, wait_until="domcontentloaded")
    page.wait_for_url("**/login?next=*")
    assert "sign_out" in set(audit.query(db, user="olga")["action"])
    ctx.close()
