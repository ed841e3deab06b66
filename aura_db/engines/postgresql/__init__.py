"""The postgresql engine: see base.py."""
