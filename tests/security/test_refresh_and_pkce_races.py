"""Racing refreshes rotate once on both storages.

Across several instances over one PostgreSQL the races are pinned in
tests/integration/test_refresh_concurrency_pg.py (legacy and v2 tokens) and
tests/integration/test_code_reuse_races.py (a PKCE code and an emailed link used once).
"""

from contract.storage import test_concurrent_refreshes_of_one_token_end_consistently  # noqa: F401
