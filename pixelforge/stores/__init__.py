"""The adapters behind the task domain's protocols (``tasks/store.py``, ``tasks/bus.py``): SQLite, Redis."""
