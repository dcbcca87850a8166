"""Open redirects stay closed: `redirect_to` outside GOTRUE_SITE_URL / GOTRUE_URI_ALLOW_LIST falls back to the site.

The glob and URL rules themselves are property-tested in tests/unit/test_domain_redirects.py.
"""

from contract.email_flows import (  # noqa: F401
    test_hostile_redirects_in_emailed_links_fall_back_to_the_site_url,
    test_verify_redirects_only_to_allowed_targets,
)
