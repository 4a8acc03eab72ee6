"""pytest collects doctests from every module under ``matcher/``; Alembic's
``env.py`` runs a migration when imported, so only Alembic may load it."""

collect_ignore = ["env.py"]
