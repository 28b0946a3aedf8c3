"""Tuning constants of a module that became a package stay settable on the package.

When a module was split into a package, each of its constants moved to the submodule that reads
it, and the package re-exports it. Assigning the package's name alone (``geo.crowd._REDUCE_AT =
1000``, or ``monkeypatch.setattr(crowd, ...)`` in a test) would then change a copy nobody reads.
:func:`forward_settings` makes such an assignment reach the submodule that reads the name too, as
assigning the module's global did before the split. (Assign on the package, as before: a value
set on the submodule alone is not copied back to the package's name.)
"""

from __future__ import annotations

import sys
import types
from collections.abc import Mapping

__all__ = ["forward_settings"]


class _Package(types.ModuleType):
    """A package whose listed names, when assigned, are assigned in their home module too."""

    def __setattr__(self, name: str, value: object) -> None:
        home = self.__dict__.get("_settings_homes", {}).get(name)
        if home is not None:
            setattr(home, name, value)
        super().__setattr__(name, value)


def forward_settings(package: str, homes: Mapping[str, types.ModuleType]) -> None:
    """Forward assignments of ``homes``' names on ``package`` to the module that reads each.

    Parameters
    ----------
    package : the package's ``__name__`` (call this at the end of its ``__init__``).
    homes : name -> the submodule that defines and reads it.
    """
    for name, home in homes.items():
        if name not in vars(home):
            raise AttributeError(f"{home.__name__} has no setting {name!r}")
    module = sys.modules[package]
    for name, home in homes.items():
        module.__dict__.setdefault(name, vars(home)[name])  # readable on the package too
    module.__dict__["_settings_homes"] = dict(homes)
    module.__class__ = _Package
