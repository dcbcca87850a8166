"""Metrics and tracing adapters (docs/adr/0030): imported only when GOTRUE_METRICS_ENABLED or GOTRUE_TRACING_ENABLED."""
