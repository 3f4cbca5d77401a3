"""Developer and CI commands (run as ``python scripts/<name>.py``)."""
