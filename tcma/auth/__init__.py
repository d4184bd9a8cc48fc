"""People and access: users, roles, sessions, invites, password resets, SSO and API tokens."""
