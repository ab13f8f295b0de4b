"""Use cases: each one orchestrates the domain and the ports for one request."""
