"""Adapters: the one real implementation of each port (Firestore, Secret Manager, Google)."""
