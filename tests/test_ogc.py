"""OGC API - Features (Part 1: Core, 17-069r4) at /ogc: one test per requirement of the core
and geojson classes this API claims, named after it (``/req/core/fc-bbox-response`` ->
``test_req_core_fc_bbox_response``), checked against the demo scenario read independently.

The routes run in this process (tests/ogc_http.RoutesServer) so a test can publish a result
or point the configuration at a store; tests/test_ogc_app.py reads the running app.
"""

from __future__ import annotations

import subprocess
import sys
from types import SimpleNamespace
from urllib.parse import quote

import geopandas as gpd
import pandas as pd
import pytest
from shapely.geometry import Point, box, shape

from geo import analyses, config, results
from geo.auth import Actor
from geo.store import Event
from tests.ogc_http import RoutesServer, get

CORE = "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core"
GEOJSON_CLASS = "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson"
LAYERS = ["incidents", "testing_sites", "crowd_zones", "roads", "facilities", "boundary", "cordons"]


@pytest.fixture(scope="module")
def server():
    s = RoutesServer()
    yield s
    s.stop()


@pytest.fixture(autouse=True)
def demo_config():
    """The demo scenario, no store, no results; whatever was configured before comes back."""
    before = config.current()
    config.configure(config.Config())
    results.clear()
    yield
    results.clear()
    config.configure(before)


@pytest.fixture()
def api(server) -> str:
    return f"{server.url}/ogc"


def _ok(url: str) -> dict:
    r = get(url)
    assert r.status == 200, (url, r.status, r.body[:300])
    return r.json()


def _ids(doc: dict) -> list[str]:
    return [f["id"] for f in doc["features"]]


def _links(doc: dict, rel: str) -> list[dict]:
    return [link for link in doc["links"] if link["rel"] == rel]


def _all(api: str, cid: str, query: str = "") -> list[dict]:
    """Every feature of a collection, following ``next`` links."""
    url: str | None = f"{api}/collections/{cid}/items?limit=10000{query}"
    feats: list[dict] = []
    while url:
        doc = _ok(url)
        feats += doc["features"]
        nxt = _links(doc, "next")
        url = nxt[0]["href"] if nxt else None
    return feats


# --- landing page, API definition, conformance ------------------------------------------------


def test_req_core_http_and_root_op(api):
    # /req/core/http: HTTP 1.1 (the server answers an HTTP/1.1 client); /req/core/root-op: GET
    # on the landing page, with or without the trailing slash.
    for url in (api, f"{api}/"):
        r = get(url)
        assert r.status == 200 and r.content_type.startswith("application/json")


def test_req_core_root_success(api):
    doc = _ok(api)
    rels = {link["rel"]: link for link in doc["links"]}
    assert {"service-desc", "conformance", "data", "self"} <= set(rels)
    assert rels["conformance"]["href"] == f"{api}/conformance"
    assert rels["data"]["href"] == f"{api}/collections"
    for link in doc["links"]:  # each link leads somewhere
        assert get(link["href"], accept=link["type"]).status == 200, link


def test_req_core_api_definition_op_and_success(api):
    link = next(li for li in _ok(api)["links"] if li["rel"] == "service-desc")
    r = get(link["href"], accept=link["type"])
    assert r.status == 200
    assert r.content_type.startswith("application/vnd.oai.openapi+json;version=3.0")
    doc = r.json()
    assert doc["openapi"].startswith("3.0.")
    assert doc["servers"][0]["url"] == api
    for cid in LAYERS:
        for path in (f"/collections/{cid}", f"/collections/{cid}/items"):
            assert "get" in doc["paths"][path]
        assert f"/collections/{cid}/items/{{featureId}}" in doc["paths"]


def test_req_core_conformance_op_and_success(api):
    doc = _ok(f"{api}/conformance")
    assert CORE in doc["conformsTo"] and GEOJSON_CLASS in doc["conformsTo"]


# --- collections -----------------------------------------------------------------------------


def test_req_core_fc_md_op_success_and_links(api):
    doc = _ok(f"{api}/collections")
    self_ = _links(doc, "self")
    assert self_ and self_[0]["href"] == f"{api}/collections"
    assert all("rel" in link and "type" in link for link in doc["links"])


def test_req_core_fc_md_items(api):
    results.publish_plan(analyses.stage(config.scenario(), "coverage", k=2))
    ids = [c["id"] for c in _ok(f"{api}/collections")["collections"]]
    assert ids == LAYERS + ["results-plan"]


def test_req_core_fc_md_items_links(api):
    for c in _ok(f"{api}/collections")["collections"]:
        items = _links(c, "items")
        assert [li["type"] for li in items] == ["application/geo+json"], c["id"]
        assert items[0]["href"] == f"{api}/collections/{c['id']}/items"
        assert get(items[0]["href"]).status == 200


def test_req_core_fc_md_extent(api, demo):
    by_id = {c["id"]: c for c in _ok(f"{api}/collections")["collections"]}
    for kind in LAYERS:
        layer = demo.layer(kind)
        if not len(layer):
            assert "extent" not in by_id[kind]  # nothing to bound
            continue
        x0, y0, x1, y1 = by_id[kind]["extent"]["spatial"]["bbox"][0]
        assert box(x0, y0, x1, y1).buffer(1e-9).covers(layer.union_all()), kind
    # Temporal extents include every time of the layer (instants and intervals).
    lo, hi = by_id["incidents"]["extent"]["temporal"]["interval"][0]
    t = demo.layer("incidents")["reported_at"]
    assert pd.Timestamp(lo) <= t.min() and pd.Timestamp(hi) >= t.max()
    lo, hi = by_id["testing_sites"]["extent"]["temporal"]["interval"][0]
    sites = demo.layer("testing_sites")
    assert lo is None or pd.Timestamp(lo) <= sites["opens_at"].min()
    assert hi is None or pd.Timestamp(hi) >= sites["closes_at"].max()
    assert "temporal" not in by_id["roads"]["extent"]  # roads have no time


def test_req_core_sfc_md_op_and_success(api):
    listed = {c["id"]: c for c in _ok(f"{api}/collections")["collections"]}
    for cid in LAYERS:
        assert _ok(f"{api}/collections/{cid}") == listed[cid]
    r = get(f"{api}/collections/no-such-layer")
    assert r.status == 404 and r.json()["code"] == "NotFound"


# --- features --------------------------------------------------------------------------------


def test_req_core_fc_op_and_response(api, demo):
    for kind in LAYERS:
        feats = _all(api, kind)
        assert [f["id"] for f in feats] == demo.layer(kind)["id"].tolist(), kind


def test_req_core_fc_limit_definition(api):
    doc = _ok(f"{api}/api")
    ref = doc["paths"]["/collections/roads/items"]["get"]["parameters"]
    names = [p["$ref"].rsplit("/", 1)[1] for p in ref]
    limit = doc["components"]["parameters"]["limit"]
    assert "limit" in names and limit["in"] == "query" and not limit["required"]
    assert limit["schema"] == {"type": "integer", "minimum": 1, "maximum": 10000, "default": 100}


def test_req_core_fc_limit_response_1(api, demo):
    assert len(_ok(f"{api}/collections/roads/items?limit=7")["features"]) == 7
    assert len(_ok(f"{api}/collections/roads/items")["features"]) == 100  # the default
    # Above the maximum the maximum applies (the layer has fewer: all of them).
    doc = _ok(f"{api}/collections/roads/items?limit=50000")
    assert doc["numberReturned"] == len(demo.layer("roads")) <= 10000


def test_req_core_fc_bbox_definition(api):
    doc = _ok(f"{api}/api")
    bbox = doc["components"]["parameters"]["bbox"]
    assert (bbox["in"], bbox["style"], bbox["explode"]) == ("query", "form", False)
    assert bbox["schema"]["items"] == {"type": "number"}
    assert (bbox["schema"]["minItems"], bbox["schema"]["maxItems"]) == (4, 6)


def test_req_core_fc_bbox_response(api, demo):
    roads = demo.layer("roads")
    area = (121.650, 31.140, 121.662, 31.150)
    want = [i for i, g in zip(roads["id"], roads.geometry) if g.intersects(box(*area))]
    assert 0 < len(want) < len(roads)
    q = ",".join(map(str, area))
    assert [f["id"] for f in _all(api, "roads", f"&bbox={q}")] == want
    # Six numbers (with heights) select the same: the layers are 2-D.
    q6 = f"{area[0]},{area[1]},-100,{area[2]},{area[3]},100"
    assert [f["id"] for f in _all(api, "roads", f"&bbox={q6}")] == want
    # A box far away selects nothing.
    assert _ok(f"{api}/collections/roads/items?bbox=10,10,11,11")["features"] == []


def test_req_core_fc_bbox_response_antimeridian_and_no_geometry(api):
    pts = gpd.GeoDataFrame(
        {"id": ["east", "west", "far", "nowhere"]},
        geometry=[Point(179.5, 0), Point(-179.5, 0), Point(0, 0), None],
        crs="EPSG:4326",
    )
    results.publish("results-test", pts, "Test")
    doc = _ok(f"{api}/collections/results-test/items?bbox=179,-1,-179,1")
    # Across the antimeridian; a feature without a geometry always matches (spec).
    assert _ids(doc) == ["east", "west", "nowhere"]


def test_req_core_fc_time_definition(api):
    p = _ok(f"{api}/api")["components"]["parameters"]["datetime"]
    assert (p["in"], p["required"], p["schema"]["type"]) == ("query", False, "string")


def _incidents_at(demo, lo, hi) -> list[str]:
    inc = demo.layer("incidents")
    return [
        i
        for i, t in zip(inc["id"], inc["reported_at"])
        if (lo is None or t >= pd.Timestamp(lo)) and (hi is None or t <= pd.Timestamp(hi))
    ]


@pytest.mark.parametrize(
    "lo, hi",
    [
        ("2021-10-31T16:00:00+08:00", "2021-10-31T18:30:00+08:00"),
        (None, "2021-10-31T18:00:00+08:00"),
        ("2021-10-31T10:30:00Z", None),
    ],
)
def test_req_core_fc_time_response(api, demo, lo, hi):
    want = _incidents_at(demo, lo, hi)
    text = f"{lo or '..'}/{hi or '..'}"
    doc = _ok(f"{api}/collections/incidents/items?datetime={quote(text)}")
    assert _ids(doc) == want
    assert doc["numberMatched"] == len(want)


def test_req_core_fc_time_response_instant_interval_and_untimed(api, demo):
    inc = demo.layer("incidents")
    t = inc["reported_at"].iloc[0]
    doc = _ok(f"{api}/collections/incidents/items?datetime={quote(t.isoformat())}")
    assert _ids(doc) == inc.loc[inc["reported_at"] == t, "id"].tolist()
    # Sites are intervals (opens_at..closes_at): an instant selects the sites open then.
    sites = demo.layer("testing_sites")
    at = pd.Timestamp("2021-10-31T19:30:00+08:00")
    want = [
        i
        for i, a, b in zip(sites["id"], sites["opens_at"], sites["closes_at"])
        if (pd.isna(a) or a <= at) and (pd.isna(b) or b >= at)
    ]
    doc = _ok(f"{api}/collections/testing_sites/items?datetime={quote(at.isoformat())}")
    assert _ids(doc) == want and 0 < len(want) < len(sites)
    # A collection without time ignores the parameter.
    doc = _ok(f"{api}/collections/facilities/items?datetime=2000-01-01T00:00:00Z")
    assert doc["numberMatched"] == len(demo.layer("facilities"))


def test_req_core_fc_links_and_paging(api, demo):
    url = f"{api}/collections/roads/items?limit=500"
    pages, seen = 0, []
    while url:
        doc = _ok(url)
        assert _links(doc, "self")[0]["href"] == url
        assert _links(doc, "collection")[0]["href"] == f"{api}/collections/roads"
        if pages:
            assert _links(doc, "prev"), "a later page links back"
        seen += _ids(doc)
        pages += 1
        nxt = _links(doc, "next")
        url = nxt[0]["href"] if nxt else None
    assert pages == -(-len(demo.layer("roads")) // 500)
    assert seen == demo.layer("roads")["id"].tolist()  # each feature once, in order


def test_req_core_fc_rel_type(api):
    doc = _ok(f"{api}/collections/roads/items?limit=3&offset=3")
    assert {li["rel"] for li in doc["links"]} == {"self", "next", "prev", "collection"}
    assert all(li.get("type") for li in doc["links"])


def test_req_core_fc_timestamp(api):
    before = pd.Timestamp.now(tz="UTC").floor("s")
    doc = _ok(f"{api}/collections/incidents/items")
    after = pd.Timestamp.now(tz="UTC")
    assert before <= pd.Timestamp(doc["timeStamp"]) <= after


def test_req_core_fc_numbermatched_and_numberreturned(api, demo):
    roads = demo.layer("roads")
    area = box(121.64, 31.13, 121.67, 31.16)
    want = int(roads.intersects(area).sum())
    doc = _ok(f"{api}/collections/roads/items?limit=10&bbox=121.64,31.13,121.67,31.16")
    assert doc["numberMatched"] == want and doc["numberReturned"] == len(doc["features"]) == 10


def test_req_core_f_op_success_and_links(api, demo):
    site = demo.layer("testing_sites").iloc[3]
    r = get(f"{api}/collections/testing_sites/items/{site['id']}")
    assert r.status == 200 and r.content_type.startswith("application/geo+json")
    f = r.json()
    assert f["type"] == "Feature" and f["id"] == site["id"]
    assert shape(f["geometry"]).equals_exact(site.geometry, 1e-7)
    assert f["properties"]["lanes"] == site["lanes"]
    rels = {li["rel"]: li for li in f["links"]}
    assert rels["self"]["href"] == f"{api}/collections/testing_sites/items/{site['id']}"
    assert rels["collection"]["href"] == f"{api}/collections/testing_sites"
    assert all(li.get("type") for li in f["links"])
    assert get(f"{api}/collections/testing_sites/items/no-such-site").status == 404


def test_req_core_f_op_ids_with_reserved_characters(api):
    g = gpd.GeoDataFrame({"id": ["a/b c?"]}, geometry=[Point(121.6, 31.1)], crs="EPSG:4326")
    results.publish("results-test", g, "Test")
    url = f"{api}/collections/results-test/items/{quote('a/b c?', safe='')}"
    f = _ok(url)
    assert f["id"] == "a/b c?" and _links(f, "self")[0]["href"] == url


def test_req_core_query_param_unknown(api):
    for url in (
        f"{api}/collections/roads/items?colour=red",
        f"{api}/collections?bbox=1,2,3,4",
        f"{api}/collections/roads/items?bbox-crs=http://www.opengis.net/def/crs/EPSG/0/4326",
    ):
        r = get(url)
        assert r.status == 400 and r.json()["code"] == "UnknownParameter", url


@pytest.mark.parametrize(
    "query, names",
    [
        ("limit=0", "limit"),
        ("limit=ten", "limit"),
        ("limit=5&limit=6", "limit"),
        ("offset=-1", "offset"),
        ("bbox=1,2,3", "bbox"),
        ("bbox=121,31,x,32", "bbox"),
        ("bbox=121,32,122,31", "bbox"),
        ("bbox=121,31,122,95", "bbox"),
        ("datetime=yesterday", "datetime"),
        ("datetime=2021-10-31T18:00:00", "datetime"),  # no zone: not RFC 3339
        ("datetime=2021-11-01T00:00:00Z/2021-10-31T00:00:00Z", "datetime"),
        ("datetime=../..", "datetime"),
        ("f=html", "f"),
    ],
)
def test_req_core_query_param_invalid(api, query, names):
    r = get(f"{api}/collections/incidents/items?{query}")
    assert r.status == 400
    doc = r.json()
    assert doc["code"] == "InvalidParameterValue" and doc["description"].startswith(names)


def test_req_core_crs84(api, demo):
    for kind in ("incidents", "crowd_zones", "roads"):
        layer = demo.layer(kind).set_index("id")
        for f in _all(api, kind):
            # The same place as the layer (lon/lat, to the writer's 7 decimals).
            assert shape(f["geometry"]).equals_exact(layer.geometry[f["id"]], 2e-7), f["id"]


# --- GeoJSON ---------------------------------------------------------------------------------


def test_req_geojson_definition(api, demo):
    sid = demo.layer("testing_sites")["id"].iloc[0]
    assert get(f"{api}/collections/roads/items").content_type == "application/geo+json"
    feature = get(f"{api}/collections/testing_sites/items/{sid}")
    assert feature.content_type == "application/geo+json"
    for path in ("", "/conformance", "/collections", "/collections/roads"):
        assert get(f"{api}{path}").content_type == "application/json"


def test_req_geojson_content(api):
    doc = _ok(f"{api}/collections/crowd_zones/items?limit=5")
    assert doc["type"] == "FeatureCollection" and isinstance(doc["links"], list)
    assert "crs" not in doc  # RFC 7946: no crs member
    for f in doc["features"]:
        assert f["type"] == "Feature" and set(f) >= {"id", "geometry", "properties"}
        geom = shape(f["geometry"])
        polys = getattr(geom, "geoms", [geom])
        assert all(p.exterior.is_ccw for p in polys)  # RFC 7946 winding


def test_times_reach_gdal_as_times(api):
    # Sub-millisecond times would come back from GDAL as "03:00:60.000" text (see documents._ms).
    t = pd.Timestamp("2021-11-01T03:00:59.999912+08:00")
    g = gpd.GeoDataFrame({"id": ["a"], "t": [t]}, geometry=[Point(121.6, 31.1)], crs="EPSG:4326")
    results.publish("results-test", g, "Test", time=("t", None))
    # GDAL in another process: pyogrio holds the GIL, the routes serve from a thread of this one.
    read = (
        "import sys, pyogrio; "
        "df = pyogrio.read_dataframe(sys.argv[1], layer='results-test'); "
        "print(df['t'].dtype, df['t'].iloc[0].isoformat(), sep='|')"
    )
    run = subprocess.run(
        [sys.executable, "-c", read, f"OAPIF:{api}"], capture_output=True, text=True, timeout=60
    )
    assert run.returncode == 0, run.stderr
    dtype, value = run.stdout.strip().split("|")
    assert dtype.startswith("datetime64") and pd.Timestamp(value) == t.floor("ms")


# --- what is served: results, live layers ----------------------------------------------------


def test_a_cordon_appears_as_collections_once_run(api):
    assert get(f"{api}/collections/results-cordon-bands").status == 404
    sc = config.scenario()
    result = analyses.cordon(sc, ["inc-001"], (300, 1000, 3000))
    results.publish_cordon(result)
    listed = [c["id"] for c in _ok(f"{api}/collections")["collections"]]
    assert {"results-cordon-bands", "results-checkpoints"} <= set(listed)
    bands = _ok(f"{api}/collections/results-cordon-bands/items")
    assert _ids(bands) == ["lockdown", "control", "prevention"]
    assert [f["properties"]["people"] for f in bands["features"]] == pytest.approx(
        result.bands["people"].tolist()
    )
    cps = _all(api, "results-checkpoints")
    assert [f["id"] for f in cps] == result.checkpoints["id"].tolist()
    # A later run replaces it.
    results.publish_cordon(analyses.cordon(sc, ["inc-001"], (100, 200, 300)))
    again = _ok(f"{api}/collections/results-cordon-bands/items")
    assert [f["properties"]["outer_m"] for f in again["features"]] == [100, 200, 300]


def test_results_registry_is_bounded_and_rejects_bad_input():
    g = gpd.GeoDataFrame({"id": ["a"]}, geometry=[Point(0, 0)], crs="EPSG:4326")
    for i in range(results.MAX_RESULTS + 3):
        results.publish(f"results-n{i:02d}", g, "n")
    ids = [r.id for r in results.collections()]
    assert len(ids) == results.MAX_RESULTS and "results-n00" not in ids
    with pytest.raises(ValueError, match="collection id"):
        results.publish("Bad Name!", g, "x")
    with pytest.raises(ValueError, match="repeated"):
        results.publish("results-dup", pd.concat([g, g]), "x")
    with pytest.raises(ValueError, match="no CRS"):
        results.publish(
            "results-nocrs", gpd.GeoDataFrame({"id": ["a"]}, geometry=[Point(0, 0)]), "x"
        )
    # The panels' helpers log instead of raising: the session keeps its result.
    plan = SimpleNamespace(sites=pd.concat([g, g]).rename(columns={"id": "candidate_id"}))
    assert results.publish_plan(plan) == []
    assert "results-plan" not in [r.id for r in results.collections()]


def test_catchments_carry_their_time_interval(api):
    sc = config.scenario()
    res = analyses.catchments(sc, "balanced", "walk")
    results.publish_catchments(res)
    c = _ok(f"{api}/collections/results-catchments")
    assert "temporal" in c["extent"]
    feats = _all(api, "results-catchments")
    assert [f["id"] for f in feats] == res.sites["site_id"].astype(str).tolist()


def test_live_layers_come_from_the_store(api, tmp_path, demo):
    url = f"sqlite:///{tmp_path / 'ops.sqlite'}"
    config.configure(config.Config(store=url))
    before = _all(api, "incidents")
    assert sorted(f["id"] for f in before) == sorted(demo.layer("incidents")["id"])
    store = config.store()
    assert store is not None
    t = pd.Timestamp("2021-10-31T21:00:00+08:00")
    props = {"kind": "fire", "severity": 4, "reported_at": t.isoformat(), "status": "open"}
    store.append(
        [Event("incident", "inc-new", t, props, Point(121.66, 31.145))],
        actor=Actor.service("test"),  # the store refuses an anonymous write
    )
    after = _all(api, "incidents")
    assert "inc-new" in [f["id"] for f in after] and len(after) == len(before) + 1
    doc = _ok(f"{api}/collections/incidents/items?datetime=2021-10-31T20:59:00%2B08:00/..")
    assert _ids(doc) == ["inc-new"]
    assert "Live" in _ok(f"{api}/collections/incidents")["description"]
