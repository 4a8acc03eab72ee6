"""Alembic migrations of the register, shipped inside the package (no
alembic.ini is needed: :func:`matcher.store.register.migrate` points Alembic
at this folder)."""
