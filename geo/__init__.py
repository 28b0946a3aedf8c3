"""CityOps: situational-awareness analyses for city operations centres.

Everything in this package is plain Python over GeoDataFrames; only ``geo.ui`` imports Streamlit.
"""

__version__ = "0.1.0"
