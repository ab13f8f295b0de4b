"""Local development and test tooling for Convene (not deployed)."""
