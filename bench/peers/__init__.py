"""Helpers of bench/separable_blocks.py: block definitions and one runner per peer system.

Every peer library is imported lazily inside its runner, so a missing one costs a skip
message, never an ImportError at start-up.
"""
