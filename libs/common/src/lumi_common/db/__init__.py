"""Database: tables, engine and migrations (SQLAlchemy 2 async; MySQL/MariaDB or SQLite)."""
