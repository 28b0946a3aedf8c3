"""CityOps: situational-awareness analyses for city operations centres.

Everything in this package is plain Python over GeoDataFrames; only ``geo.ui`` imports Streamlit.
"""

from importlib.metadata import PackageNotFoundError, version

try:  # the one version number is pyproject.toml's, read from the installed package's metadata
    __version__ = version("cityops")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0+unknown"

__all__ = ["__version__"]
