"""Page tests run on both back ends through the store tests' fixtures."""

from tests.store.conftest import loaded, postgres_database, ready_store, region, store  # noqa: F401
