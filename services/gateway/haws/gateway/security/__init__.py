"""Who may connect and what they may use: tokens (auth, JWKS), grants, origins,
forwarded addresses, admission and connection limits, command rate, TLS, and the
start-up checks of those settings."""
