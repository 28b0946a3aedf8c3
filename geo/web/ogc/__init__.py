"""OGC API - Features (Part 1: Core, 17-069r4) on the app's own server, read-only, for desktop
GIS (QGIS, ArcGIS Pro) and GDAL's OAPIF driver: ``http://<app>/ogc``.

Collections
-----------
- the configured scenario's layers (``--scenario`` / ``CITYOPS_SCENARIO``, the demo by
  default), ids = layer kinds: ``incidents``, ``testing_sites``, ``crowd_zones``, ``roads``,
  ``facilities``, ``boundary``, ``cordons``;
- with an operations store (``--store``), the live layers (incidents, testing_sites,
  crowd_zones, cordons) as the store has them now (re-read when it has new events);
- the latest computed results (:mod:`geo.results`): ``results-cordon-bands``,
  ``results-checkpoints``, ``results-catchments``, ``results-isochrones``, ``results-plan``,
  ``results-plan-a``, ``results-plan-b``, each listed once it has been run.

Resources: ``/ogc`` (landing page), ``/ogc/api`` (OpenAPI 3.0), ``/ogc/conformance``,
``/ogc/collections``, ``/ogc/collections/{id}``, ``/ogc/collections/{id}/items`` (``bbox``,
``datetime``, ``limit`` (default 100, max 10,000), ``offset``; ``next``/``prev`` links,
``numberMatched``, ``numberReturned``, ``timeStamp``) and ``.../items/{featureId}``.
Conformance classes: core and geojson. Features are written by :func:`geo.io.to_geojson`
(RFC 7946). Unknown or invalid parameters get 400, unknown ids 404.

Access: the routes need no Streamlit session; the app's middleware (sign-in) wraps them like
every route, and a per-role rule would go in ``handlers._answer`` (``request.state.user``).
"""

from geo.web.ogc.handlers import PREFIX, routes

__all__ = ["PREFIX", "routes"]
