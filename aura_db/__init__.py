"""aura-db: database administration for Aura Video Studio."""

__version__ = "0.1.0"
