-- Helper functions, prepended to each script whose header names this file in its 'Uses:' line (EVAL has no
-- import); no KEYS or ARGV of their own.
-- Appends an event to the task's stream under its next sequence number; returns the number.
local function append(task, events, etype, etime, data)
  local seq = redis.call('HINCRBY', task, 'last_seq', 1)
  redis.call('XADD', events, seq .. '-0', 'type', etype, 'time', etime, 'data', data)
  return seq
end
-- The time goes as the stored text: cjson would round it to 14 digits.
local function publish(channel, task_id, seq, etype, etime, data)
  local event = {task_id = task_id, seq = seq, type = etype, time = etime, data = cjson.decode(data)}
  redis.call('PUBLISH', channel, 'store ' .. cjson.encode({event = event}))
end
