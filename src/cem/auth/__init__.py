"""The authentication kernel every route depends on: principal, roles and permissions, password and token
security, credentials (API tokens and web sessions to principals), the caller of a request, the token cache,
login throttling and the audit log. Domains build on it; it imports no domain."""
