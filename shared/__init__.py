"""Convene's common module: configuration, errors, HTTP plumbing, auth, domain and adapters.

Every deployable function imports this package; packaging copies it beside each
function's ``main.py``. Keep imports here light: cold start matters.
"""
