"""Vector tiles of the heavy layers: generalised by zoom, encoded as MVT, cached on disk."""
