-- The progress of a split task, combined over its jobs, with its event. Two workers' combinations can reach here
-- in the other order than they were computed in: one that would move the bar back is not stored (nor is one after
-- the task has ended). KEYS: task, events;  ARGV: time, progress JSON. Returns the event's seq, or 0.
-- Uses: _append.lua
if redis.call('HGET', KEYS[1], 'state') ~= 'running' then return 0 end
local old = redis.call('HGET', KEYS[1], 'progress')
if old and old ~= '' and cjson.decode(ARGV[2]).progress < (cjson.decode(old).progress or 0) then return 0 end
redis.call('HSET', KEYS[1], 'progress', ARGV[2])
return append(KEYS[1], KEYS[2], 'progress', ARGV[1], ARGV[2])
