"""Streamlit pages and widgets: the only part of CityOps that imports Streamlit."""
