-- The schema version of a namespace: stamped by the first store that opens it, read by every later one.
-- KEYS: schema, queue;  ARGV: the version this pixelforge writes
-- Returns the namespace's version: ARGV[1] for a new namespace (no queue stream yet: no store has opened it), ''
-- for one that holds data written before versions were stamped.
local version = redis.call('GET', KEYS[1])
if version then return version end
if redis.call('EXISTS', KEYS[2]) == 1 then return '' end
redis.call('SET', KEYS[1], ARGV[1])
return ARGV[1]
