"""The Redis TaskStore and EventBus (distributed mode): keys, records, Lua scripts, the store and the bus."""
