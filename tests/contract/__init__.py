"""Contract suites: written once, collected on the in-memory adapters and on PostgreSQL.

Each module here is pulled into tests/unit/test_contract_memory.py and
tests/integration/test_contract_postgres.py with `from contract.x import *` (add new modules to
both; tests/unit/test_contract_collectors.py checks that, and that no test or fixture name is
used by two modules, which would silently shadow one of them).

Fixtures both collectors provide:
* `api`: a `support.api.Api` over fresh, empty storage with the default test settings.
* `make_api(env=None, *, clock=None)`: the same with GOTRUE_* overrides, and optionally a
  `pytrue.adapters.system.FixedClock` the app runs on (`api.clock.advance(...)`); pytrue writes
  every timestamp from its clock, so this holds on PostgreSQL as well.

Check what was stored only through the storage-neutral reads: `await api.counts()`,
`api.users()` / `api.user()`, `api.refresh_tokens()`, `api.audit_actions()`; never `api.store`.
"""
