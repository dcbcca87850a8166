"""pytrue: a GoTrue-compatible auth server."""
