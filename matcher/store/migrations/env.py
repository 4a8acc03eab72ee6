"""Alembic's environment for the register: it runs on the connection that
:func:`matcher.store.register.migrate` hands over (``config.attributes``),
inside that caller's transaction."""

from alembic import context

from matcher.store.schema import metadata

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
