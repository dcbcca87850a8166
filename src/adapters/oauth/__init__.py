"""External OAuth 2.0 / OpenID Connect providers over one shared httpx client (issue 11)."""
