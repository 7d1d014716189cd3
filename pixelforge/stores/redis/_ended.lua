-- Helper functions, prepended to each script whose header names this file in its 'Uses:' line (EVAL has no
-- import); no KEYS or ARGV of their own.
-- Whether the task is in a terminal state: one that no script moves it out of.
local function ended(task)
  local state = redis.call('HGET', task, 'state')
  return state == 'completed' or state == 'interrupted' or state == 'failed' or state == 'cancelled'
end
