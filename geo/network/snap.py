"""Where points meet the network: the :class:`Snap` result and the exact nearest-segment index."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.spatial import cKDTree

__all__ = ["Snap"]

_SAMPLE_M = 30.0  # spacing of the snapping samples along segments
_K = 8  # candidates per point in the first snapping pass


@dataclass(frozen=True)
class Snap:
    """Where points meet the network in one mode: arrays with one entry per point.

    ``edge``/``frac``: the edge and the position along it (0 at ``u``, 1 at ``v``); ``dist_m``:
    distance from the point to the network; ``access_s``: that distance at walking speed;
    ``off_network``: further than the threshold; ``island``: on a small disconnected piece;
    ``xy``: the snapped point in the network's metric CRS.
    """

    edge: np.ndarray
    frac: np.ndarray
    dist_m: np.ndarray
    access_s: np.ndarray
    off_network: np.ndarray
    island: np.ndarray
    xy: np.ndarray

    def __len__(self) -> int:
        return len(self.edge)


def _take(s: Snap, sl: slice) -> Snap:
    return Snap(
        s.edge[sl],
        s.frac[sl],
        s.dist_m[sl],
        s.access_s[sl],
        s.off_network[sl],
        s.island[sl],
        s.xy[sl],
    )


class _SegmentIndex:
    """Exact nearest segment for many points, through a KD-tree of samples along the segments.

    Each segment is covered by samples at most ``_SAMPLE_M`` apart, so any point of a segment is
    within ``_SAMPLE_M / 2`` of one of its samples. For a query point whose best exact distance
    among the candidate segments is ``d``, every segment at distance <= ``d`` has a sample within
    ``d + _SAMPLE_M / 2``; when the ``k``-th nearest sample is further than that, the candidates
    hold the true nearest segment. Points for which that is not proven are re-queried with
    ``4 k`` samples, and so on.
    """

    def __init__(self, vert_xy: np.ndarray, seg_start: np.ndarray, seg_ids: np.ndarray) -> None:
        self.seg_ids = seg_ids
        a = vert_xy[seg_start]
        b = vert_xy[seg_start + 1]
        self.origin = a.mean(axis=0) if len(a) else np.zeros(2)
        self.a = a - self.origin
        self.d = b - a
        self.l2 = np.maximum((self.d**2).sum(1), 1e-18)
        length = np.sqrt(self.l2)
        k = np.maximum(np.ceil(length / _SAMPLE_M).astype(np.int64), 1)
        self.sample_seg = np.repeat(np.arange(len(a)), k)
        pos = (np.arange(k.sum()) - np.repeat(np.cumsum(k) - k, k) + 0.5) / k[self.sample_seg]
        samples = self.a[self.sample_seg] + self.d[self.sample_seg] * pos[:, None]
        self.tree = cKDTree(samples, balanced_tree=False, compact_nodes=False)
        self.n = len(samples)

    def _exact(self, p: np.ndarray, cand: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        x = p[:, :1] - self.a[cand, 0]
        y = p[:, 1:] - self.a[cand, 1]
        dx, dy = self.d[cand, 0], self.d[cand, 1]
        u = (x * dx + y * dy) / self.l2[cand]
        np.clip(u, 0.0, 1.0, out=u)
        x -= u * dx
        y -= u * dy
        d2 = x * x + y * y
        j = d2.argmin(axis=1)
        r = np.arange(len(p))
        return cand[r, j], u[r, j], np.sqrt(d2[r, j])

    def nearest(self, xy: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(segment id, position 0..1 on it, distance) of the nearest segment to each point."""
        p_all = xy - self.origin
        n = len(p_all)
        seg = np.empty(n, dtype=np.int64)
        u = np.empty(n)
        dist = np.empty(n)
        if n == 0:
            return seg, u, dist
        # Query in a spatial order: neighbouring queries touch the same tree nodes (1.3x faster).
        cellx = np.floor(p_all[:, 0] / 2000.0).astype(np.int64)
        celly = np.floor(p_all[:, 1] / 200.0).astype(np.int64)
        todo = np.lexsort((celly, cellx))
        k = _K
        while todo.size:
            kk = min(k, self.n)
            again = []
            for c in range(0, todo.size, 1 << 16):
                sl = todo[c : c + (1 << 16)]
                p = p_all[sl]
                dd, ii = self.tree.query(p, k=kk, workers=-1)
                if kk == 1:
                    dd, ii = dd[:, None], ii[:, None]
                s, uu, d = self._exact(p, self.sample_seg[ii])
                seg[sl], u[sl], dist[sl] = s, uu, d
                if kk < self.n:
                    again.append(sl[dd[:, -1] <= d + _SAMPLE_M / 2])
            todo = np.concatenate(again) if again else np.zeros(0, dtype=np.int64)
            k *= 4
        return self.seg_ids[seg], u, dist
