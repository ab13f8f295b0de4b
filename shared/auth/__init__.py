"""Who is calling: Firebase ID tokens, signed guest links, Google OIDC for internal calls."""
