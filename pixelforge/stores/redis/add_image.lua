-- One image of a task stored, with its 'image' event.
-- KEYS: task, events, images;  ARGV: image JSON, time
-- Images are kept by their index in the batch, whichever job (and worker) ends first; a job run again after its
-- worker died replaces the images of the same index.
-- Returns the 'image' event's seq, or false for an unknown task.
-- Uses: _append.lua
if redis.call('EXISTS', KEYS[1]) == 0 then return false end
local index = cjson.decode(ARGV[1]).index
redis.call('ZREMRANGEBYSCORE', KEYS[3], index, index)
redis.call('ZADD', KEYS[3], index, ARGV[1])
return append(KEYS[1], KEYS[2], 'image', ARGV[2], ARGV[1])
