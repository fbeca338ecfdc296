"""The toolkit's version, read by hatchling and recorded in every session-log row."""

__version__ = "0.1.0"
