-- Every queued task of one owner (or everyone's) cancelled in one step, each with its event, in queue order.
-- KEYS: queued, queue;  ARGV: group, owner ('' for everyone), now, event data, task key prefix, events key prefix,
-- active key prefix. Returns {task id, seq, task id, seq, ...}.
-- Uses: _append.lua, _release.lua, _jobs.lua
local ended = {}
for _, task_id in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  local task = ARGV[5] .. task_id
  local owner = redis.call('HGET', task, 'owner')
  if owner and (ARGV[2] == '' or owner == ARGV[2]) and redis.call('HGET', task, 'state') == 'queued' then
    redis.call('HSET', task, 'state', 'cancelled', 'finished_at', ARGV[3], 'stop_reason', 'cancelled')
    drop_waiting(task, KEYS[2], ARGV[1], false)
    release(task, KEYS[2], ARGV[1], ARGV[7] .. owner, KEYS[1], task_id)
    table.insert(ended, task_id)
    table.insert(ended, append(task, ARGV[6] .. task_id, 'cancelled', ARGV[3], ARGV[4]))
  end
end
return ended
