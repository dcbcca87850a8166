"""Issue 16.4 pinned under tests/security: the hostile-input contract suite, on memory and PostgreSQL (conftest)."""

from contract.hostile_input import *  # noqa: F403
