"""Auth hooks: the Standard Webhooks HTTP client and the parsing of hook URIs and secrets."""
