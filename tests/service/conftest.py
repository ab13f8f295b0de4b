"""Service tests: the services on the in-memory fakes of their ports (tests/fakes.py), no
emulator, no sandbox: each test runs in milliseconds. tests/contract/ proves the fakes
behave as the Firestore adapters do."""
