"""Contract suites: written once, collected on the in-memory adapters and on PostgreSQL."""
