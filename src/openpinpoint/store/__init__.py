"""Storage behind one interface: SQLite (embedded default) and PostgreSQL."""

from openpinpoint.store.base import App, ReadTx, Store, WriteTx
from openpinpoint.store.open import open_store

__all__ = ["App", "ReadTx", "Store", "WriteTx", "open_store"]
