"""A banned user gets no session and no access by any route (sign-in, refresh, /user, update, logout)."""

from contract.http_edges import test_ban_is_lifted_by_none_or_zero, test_banned_user_cannot_update_or_logout  # noqa: F401
from contract.refresh_v2 import test_a_banned_user_cannot_refresh_a_counter_token  # noqa: F401
from contract.storage import test_ban_blocks_sign_in_refresh_and_access  # noqa: F401
