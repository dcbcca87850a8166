"""An email change cannot take over an address: both links are needed, a taken address is refused."""

from contract.email_flows import (  # noqa: F401
    test_email_change_to_a_taken_address_is_refused,
    test_secure_email_change_needs_both_links,
)
