"""pytrue in your test suite: a real, wire-compatible Supabase Auth server in the test process.

    from pytrue.testing import AuthServer

    with AuthServer(mailer_autoconfirm=False) as auth:
        ...  # point supabase-js / supabase-py at auth.url with auth.anon_key

See docs/testing.md. The pytest plugin (`pytrue_server`, `pytrue`) is in `pytrue.testing.pytest_plugin`.
"""

from pytrue.testing.config import TEST_DEFAULTS
from pytrue.testing.mail import Email, Inbox, Outbox, Sms
from pytrue.testing.server import AsyncAuthServer, AuthServer, AuthServerError, Storage

__all__ = [
    "TEST_DEFAULTS",
    "AsyncAuthServer",
    "AuthServer",
    "AuthServerError",
    "Email",
    "Inbox",
    "Outbox",
    "Sms",
    "Storage",
]
