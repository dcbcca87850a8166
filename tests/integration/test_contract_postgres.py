"""The storage contract suites on PostgreSQL."""

from contract.email_flows import *  # noqa: F403
from contract.http_basics import *  # noqa: F403
from contract.storage import *  # noqa: F403
from contract.rate_limiter import *  # noqa: F403
