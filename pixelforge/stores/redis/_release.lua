-- Helper functions, prepended to each script whose header names this file in its 'Uses:' line (EVAL has no
-- import); no KEYS or ARGV of their own.
-- Ends a task's claim on the queue: the entry is acknowledged and dropped, the owner's slot freed.
local function release(task, queue, group, active, queued, task_id)
  local entry = redis.call('HGET', task, 'entry')
  if entry and entry ~= '' then
    redis.call('XACK', queue, group, entry)
    redis.call('XDEL', queue, entry)
    redis.call('HDEL', queue .. ':bound', entry)
  end
  redis.call('SREM', active, task_id)
  redis.call('ZREM', queued, task_id)
end
