"""The sqlite engine: see base.py."""
