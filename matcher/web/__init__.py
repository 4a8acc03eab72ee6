"""The web front end: ``matcher serve`` (FastAPI over the domain API)."""
