"""The graph of one travel mode: arc times per edge, a CSR matrix, components and islands."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components

from geo.network.snap import _SegmentIndex

if TYPE_CHECKING:
    from geo.network.road_network import RoadNetwork

__all__ = ["ISLAND_NODES"]

#: A component with fewer nodes than this (and not the largest) is an island.
ISLAND_NODES = 200


@dataclass
class _ModeGraph:
    """The graph of one mode: arc times per edge, CSR matrices, components."""

    t_fwd: np.ndarray  # seconds u->v per edge, inf when not allowed
    t_back: np.ndarray  # seconds v->u per edge
    csr: sp.csr_array
    comp: np.ndarray  # component label per node
    major: np.ndarray  # per component label: True unless an island
    edge_ok: np.ndarray  # edge usable in this mode
    edge_major: np.ndarray  # usable and on a major component
    _rev: sp.csr_array | None = None
    _index_all: _SegmentIndex | None = None
    _index_major: _SegmentIndex | None = None

    @property
    def rev(self) -> sp.csr_array:
        if self._rev is None:
            self._rev = sp.csr_array(self.csr.T)
            self._rev.sort_indices()
        return self._rev


def _build_graph(net: RoadNetwork, mode: str) -> _ModeGraph:
    """Arc times of ``mode`` on every edge of ``net``, its CSR matrix and its components."""
    n = net.n_nodes
    inf = np.inf
    if mode == "walk":
        ok = net._road_walk[net.edge_road]
        t = np.where(ok, net.edge_len / net.walk_ms, inf)
        t_fwd, t_back = t, t.copy()
    else:
        kmh = net._road_drive_kmh[net.edge_road]
        ok = kmh > 0
        with np.errstate(divide="ignore"):
            t = np.where(ok, net.edge_len / (kmh / 3.6), inf)
        t_fwd = t
        t_back = np.where(net._road_oneway[net.edge_road], inf, t)
    loop = net.edge_u == net.edge_v
    rows = np.r_[net.edge_u, net.edge_v]
    cols = np.r_[net.edge_v, net.edge_u]
    w = np.r_[t_fwd, t_back]
    keep = np.isfinite(w) & ~np.r_[loop, loop]
    rows, cols, w = rows[keep], cols[keep], w[keep]
    # Parallel edges: keep the fastest (a COO->CSR conversion would add them up).
    order = np.lexsort((w, cols, rows))
    rows, cols, w = rows[order], cols[order], w[order]
    first = np.ones(len(rows), dtype=bool)
    first[1:] = (rows[1:] != rows[:-1]) | (cols[1:] != cols[:-1])
    rows, cols, w = rows[first], cols[first], w[first]
    csr = sp.csr_array((w, (rows, cols)), shape=(n, n))
    csr.sort_indices()
    if n:
        _, comp = connected_components(
            csr, directed=(mode == "drive"), connection="strong", return_labels=True
        )
    else:
        comp = np.zeros(0, dtype=np.int32)
    # Components made only of nodes no usable edge touches are not candidates anyway.
    used = np.zeros(n, dtype=bool)
    used[net.edge_u[ok]] = True
    used[net.edge_v[ok]] = True
    size = np.bincount(comp[used], minlength=int(comp.max(initial=-1)) + 1)
    major = size >= ISLAND_NODES
    if size.size:
        major[int(np.argmax(size))] = True
    edge_major = ok & (comp[net.edge_u] == comp[net.edge_v]) & major[comp[net.edge_u]]
    return _ModeGraph(t_fwd, t_back, csr, comp, major, ok, edge_major)
