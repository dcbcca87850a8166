"""The storage contract suites on PostgreSQL (each app gets a recycled or freshly cloned database)."""

from contract.cleanup import *  # noqa: F403
from contract.email_flows import *  # noqa: F403
from contract.http_basics import *  # noqa: F403
from contract.http_public import *  # noqa: F403
from contract.http_signup import *  # noqa: F403
from contract.http_token import *  # noqa: F403
from contract.http_user import *  # noqa: F403
from contract.http_admin import *  # noqa: F403
from contract.http_audit import *  # noqa: F403
from contract.http_edges import *  # noqa: F403
from contract.http_conventions import *  # noqa: F403
from contract.storage import *  # noqa: F403
from contract.rate_limiter import *  # noqa: F403
from contract.request_limits import *  # noqa: F403
from contract.refresh_v2 import *  # noqa: F403
from contract.hostile_input import *  # noqa: F403
from contract.openapi_fuzz import *  # noqa: F403
from contract.pre_registration import *  # noqa: F403
from contract.code_attempts import *  # noqa: F403
from contract.verify_confirmation_page import *  # noqa: F403
from contract.oauth_flows import *  # noqa: F403
from contract.id_token_grant import *  # noqa: F403
from contract.identity_linking import *  # noqa: F403
from contract.oauth_resolution import *  # noqa: F403
from contract.phone_flows import *  # noqa: F403
from contract.user_sessions import *  # noqa: F403
