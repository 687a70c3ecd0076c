"""Proposed child↔parent links: the matching integration (blocking keys in the database, the worker)."""
