-- The lease of a worker's task: the entry of the task (or job) it runs has its idle time reset, so that nobody
-- reclaims it. Only entries it still owns (a worker that was too slow and lost one to XAUTOCLAIM does not
-- take it back), and only of a task it runs: an entry handed to it while it was busy ages, and another
-- worker claims it after one lease instead of it waiting behind a long task.
-- Only entries of the task the worker reports running: one it could not end (the store failed it) is taken over
-- after a lease instead of being held forever by an idle worker. (The last job's entry of a split task is not
-- renewed for the moment its worker merges the ends and stores the task's: a worker that stalls for the rest of
-- its lease there loses it to a rerun, and FINISH / FINISH_JOB then refuse whichever end comes second.)
-- KEYS: queue;  ARGV: group, worker id, task key prefix, the id of the task the worker runs ('' for none).
-- Returns the renewed entries.
local renewed = {}
for _, pending in ipairs(redis.call('XPENDING', KEYS[1], ARGV[1], '-', '+', 100, ARGV[2])) do
  local entry = redis.call('XRANGE', KEYS[1], pending[1], pending[1])[1]
  -- fields: task <id> [job <n>]; a whole task's entry may have been swapped to another task by a claim
  local task_id = entry and (redis.call('HGET', KEYS[1] .. ':bound', pending[1]) or entry[2][2])
  if entry and task_id == ARGV[4] then
    local task, job = ARGV[3] .. task_id, entry[2][4]
    local worker_field = 'worker_id'
    if job then worker_field = 'job:' .. job .. ':worker' end
    if redis.call('HGET', task, worker_field) == ARGV[2] and redis.call('HGET', task, 'state') == 'running' then
      table.insert(renewed, pending[1])
    end
  end
end
if #renewed > 0 then
  local args = {KEYS[1], ARGV[1], ARGV[2], 0}
  for _, entry in ipairs(renewed) do table.insert(args, entry) end
  table.insert(args, 'JUSTID')
  redis.call('XCLAIM', unpack(args))
end
return renewed
