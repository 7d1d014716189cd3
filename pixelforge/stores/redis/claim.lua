-- A worker claims a queue entry delivered to it. A job's entry runs its job (of a task already running, or the
-- task's first). An entry of a whole task is a ticket: it runs the first queued whole task in the policy's order;
-- when that is not the task the entry is bound to, the two tasks swap entries (kept in the queue's ':bound'
-- hash), so that every queued task keeps one entry and a cancel still drops the right one.
-- KEYS: queued, queue, turns
-- ARGV: the entry's listed task id (its 'task' field), worker id, now, entry id, group, job ('' for a whole task),
-- task key prefix, policy ('fair' or 'fifo'), the turn of an identity never served
-- A delivered entry whose task is no longer queued (cancelled, pruned) is acknowledged and dropped; so is a
-- job's entry when its task has ended or the job was dropped. Returns 0 (nothing to run), 1 (run the job, of a
-- task already running), 2 (run this job, the task's first), or the id of the whole task to run.
-- Uses: _jobs.lua, _queue_order.lua
local entry, prefix = ARGV[4], ARGV[7]
local function drop()
  redis.call('XACK', KEYS[2], ARGV[5], entry)
  redis.call('XDEL', KEYS[2], entry)
  redis.call('HDEL', KEYS[2] .. ':bound', entry)
  return 0
end
if ARGV[6] ~= '' then
  local task = prefix .. ARGV[1]
  local state = redis.call('HGET', task, 'state')
  if (state ~= 'queued' and state ~= 'running') or redis.call('HGET', task, job_field(ARGV[6], 'state')) ~= 'queued'
  then
    return drop()
  end
  local starts = start_job(task, KEYS[1], ARGV[1], ARGV[6], ARGV[2], ARGV[3])
  if starts == 1 then take_turn(KEYS[3], redis.call('HGET', task, 'owner'), ARGV[9]) end
  return 1 + starts
end
local bound = redis.call('HGET', KEYS[2] .. ':bound', entry) or ARGV[1]
if redis.call('HGET', prefix .. bound, 'state') ~= 'queued' then return drop() end
local head = first_in_order(KEYS[1], KEYS[3], prefix, ARGV[8], ARGV[9], KEYS[2], ARGV[5], bound) or bound
if head ~= bound then
  local head_entry = redis.call('HGET', prefix .. head, 'entry')
  redis.call('HSET', prefix .. bound, 'entry', head_entry)
  redis.call('HSET', KEYS[2] .. ':bound', head_entry, bound, entry, head)
end
local task = prefix .. head
redis.call('HSET', task, 'state', 'running', 'started_at', ARGV[3], 'worker_id', ARGV[2], 'entry', entry,
           'attempts', 1)
redis.call('ZREM', KEYS[1], head)
take_turn(KEYS[3], redis.call('HGET', task, 'owner'), ARGV[9])
return head
