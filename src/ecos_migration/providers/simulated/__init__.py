"""A simulated fleet and simulated service providers, with real ECDSA P-256 keys.

Tests and the demo run the engine against these. The simulator's state (every device's
trust anchor and every result by attempt id) lives in a SQLite file of its own, see
``state.py``.
"""
