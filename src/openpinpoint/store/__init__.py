"""Storage behind one interface (`store.base`): SQLite (embedded default) and PostgreSQL.

`store.open.open_store(url)` picks the backend from a database URL.
"""
