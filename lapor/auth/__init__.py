"""OAuth 2 authorization server and scoped permissions (arrives with issue 4)."""
