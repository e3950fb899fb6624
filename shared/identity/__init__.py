"""Identity: users, API keys, sessions and the credential vault."""
