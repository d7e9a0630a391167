"""Users, roles, login, sessions, the security policy and the role gates."""
