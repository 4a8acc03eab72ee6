"""The case register: SQLAlchemy tables, Alembic migrations, and the
register's reads and writes, on SQLite (the embedded default) or
PostgreSQL.

The store is one more source of tables for :mod:`matcher.api` and one more
writer; front ends reach it only through the API. It sits below the API
and above validation and the region (it imports neither: tables arrive
validated and leave as frames)."""
