-- A task that was running when its worker vanished for good (no heartbeat): interrupted, with its event.
-- KEYS: task, events, queue, active, queued;  ARGV: id, group, now, event time, error
-- Returns {the 'interrupted' event's seq, its data JSON}, or false when the task is not running.
-- Uses: _append.lua, _release.lua
if redis.call('HGET', KEYS[1], 'state') ~= 'running' then return false end
redis.call('HSET', KEYS[1], 'state', 'interrupted', 'finished_at', ARGV[3], 'stop_reason', 'restart',
           'stop_request', '', 'error', ARGV[5])
release(KEYS[1], KEYS[3], ARGV[2], KEYS[4], KEYS[5], ARGV[1])
local data = cjson.encode({reason = 'restart', error = ARGV[5]})
return {append(KEYS[1], KEYS[2], 'interrupted', ARGV[4], data), data}
