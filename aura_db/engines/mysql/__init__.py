"""The mysql engine: see base.py."""
