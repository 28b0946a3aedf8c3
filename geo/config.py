"""The app's configuration (scenario, store, refresh) and the process-wide scenario and store.

The page (``app.py`` / :mod:`geo.ui.state`) and the HTTP routes (:mod:`geo.web`) read the same
settings and share one loaded scenario and one store connection per process. No Streamlit here:
the routes run outside any page session.

The settings come from the command line after ``--`` (``streamlit run app.py -- --scenario X``,
which Streamlit puts in ``sys.argv`` before it imports ``app.py``) or from the environment
(``CITYOPS_SCENARIO``, ``CITYOPS_STORE``, ``CITYOPS_REFRESH_S``).
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from geo import scenario as scen
from geo.store import Store, open_store

__all__ = [
    "Config",
    "configure",
    "current",
    "from_args",
    "load_scenario",
    "open_shared_store",
    "scenario",
    "store",
]


@dataclass(frozen=True)
class Config:
    """Where the scenario comes from (None: the demo) and the operations store, if any."""

    scenario: str | None = None
    store: str | None = None
    refresh_s: float | None = None


def from_args(
    argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None
) -> Config:
    """The configuration the app was started with (arguments first, then the environment).

    Unknown arguments are ignored (``sys.argv`` may hold other programs' options).

    Examples
    --------
    >>> from_args(["--scenario", "data/x", "--refresh", "5"], environ={})
    Config(scenario='data/x', store=None, refresh_s=5.0)
    >>> from_args([], environ={"CITYOPS_STORE": "sqlite:///ops.sqlite"}).store
    'sqlite:///ops.sqlite'
    """
    env = os.environ if environ is None else environ
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--scenario", default=env.get("CITYOPS_SCENARIO"))
    parser.add_argument("--store", default=env.get("CITYOPS_STORE"))
    parser.add_argument("--refresh", default=env.get("CITYOPS_REFRESH_S"))
    args = parser.parse_known_args(list(sys.argv[1:] if argv is None else argv))[0]
    refresh = float(args.refresh) if args.refresh else None
    return Config(args.scenario or None, args.store or None, refresh)


_lock = threading.Lock()
_config: Config | None = None


def configure(config: Config) -> None:
    """Set the process's configuration (the page does at each run; tests may too)."""
    global _config
    with _lock:
        _config = config


def current() -> Config:
    """The process's configuration: the one set by :func:`configure`, else :func:`from_args`."""
    global _config
    with _lock:
        if _config is None:
            _config = from_args()
        return _config


_scenarios: dict[str | None, scen.Scenario] = {}
_stores: dict[str, Store] = {}
_load_lock = threading.Lock()


def load_scenario(path: str | None) -> scen.Scenario:
    """The scenario at ``path`` (None: the demo), loaded once per process.

    Scenarios are never mutated (``with_layer`` returns a new one), so one copy is shared.

    Examples
    --------
    >>> load_scenario(None) is load_scenario(None)
    True
    """
    key = str(Path(path).resolve()) if path else None
    with _load_lock:  # one load at a time: two first requests must not both read the files
        if key not in _scenarios:
            _scenarios[key] = scen.demo() if key is None else scen.load(key)
        return _scenarios[key]


def open_shared_store(url: str) -> Store:
    """The store at ``url``, opened once per process (a Store is thread-safe)."""
    with _load_lock:
        if url not in _stores:
            _stores[url] = open_store(url)
        return _stores[url]


def scenario() -> scen.Scenario:
    """The configured scenario (files only, without the store's live layers)."""
    return load_scenario(current().scenario)


def store() -> Store | None:
    """The configured store, or None when the app runs without one."""
    url = current().store
    return open_shared_store(url) if url else None
