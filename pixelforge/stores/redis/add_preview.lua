-- A preview of a running task stored, with its 'preview' event; only the newest `previews kept` stay.
-- KEYS: task, events, previews;  ARGV: bytes, media type, time, previews kept
-- Returns {the 'preview' event's seq, the preview's id} (the oldest beyond the kept number is dropped), or false
-- for an unknown task.
-- Uses: _append.lua
if redis.call('EXISTS', KEYS[1]) == 0 then return false end
local id = redis.call('HINCRBY', KEYS[1], 'last_preview', 1)
redis.call('HSET', KEYS[3], id, ARGV[1], id .. ':type', ARGV[2])
local gone = id - tonumber(ARGV[4])
if gone > 0 then redis.call('HDEL', KEYS[3], gone, gone .. ':type') end
local data = '{"id": ' .. id .. ', "media_type": ' .. cjson.encode(ARGV[2]) .. '}'
return {append(KEYS[1], KEYS[2], 'preview', ARGV[3], data), id}
