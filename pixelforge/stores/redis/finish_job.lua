-- One job of a split task ended. KEYS: task, queue;  ARGV: group, job, reporting worker ('' for any), the job's
-- state, its TaskEnd JSON. An end that is not 'completed', or a pending interrupt, drops the jobs not started.
-- Returns false (unknown task), {'taken', worker} (another worker runs the job now, or the task has ended), {'more'}
-- (jobs still run or wait) or {'last', end of job 0, end of job 1, ...} ('' for a job that never ran). The last
-- job's worker becomes the task's worker_id: FINISH takes the task's end from it alone. Its queue entry stays
-- pending until then (FINISH releases it): a worker that dies in between leaves it to be taken over, and the job
-- runs again; a stalled one that comes back finds whichever end is second refused.
-- Uses: _jobs.lua
if redis.call('EXISTS', KEYS[1]) == 0 then return false end
local job = ARGV[2]
local runner = redis.call('HGET', KEYS[1], job_field(job, 'worker'))
if redis.call('HGET', KEYS[1], 'state') ~= 'running' then
  return {'taken', redis.call('HGET', KEYS[1], 'worker_id') or ''}
end
if ARGV[3] ~= '' and runner ~= ARGV[3] then return {'taken', runner or ''} end
redis.call('HSET', KEYS[1], job_field(job, 'state'), ARGV[4], job_field(job, 'end'), ARGV[5])
local request = redis.call('HGET', KEYS[1], 'stop_request')
local interrupting = ARGV[4] ~= 'completed'
if request and request ~= '' then
  local decoded = cjson.decode(request)
  if decoded.action == 'interrupt' then interrupting = true end
  if decoded.action == 'skip' and type(decoded.jobs) == 'table' then  -- used up by this job
    local others = {}
    for _, named in ipairs(decoded.jobs) do
      if tostring(named) ~= job then table.insert(others, named) end
    end
    decoded.jobs = others
    redis.call('HSET', KEYS[1], 'stop_request', #others > 0 and cjson.encode(decoded) or '')
  end
end
if interrupting then drop_waiting(KEYS[1], KEYS[2], ARGV[1], false) end
local entry = redis.call('HGET', KEYS[1], job_field(job, 'entry'))
if #jobs_in(KEYS[1], 'queued') + #jobs_in(KEYS[1], 'running') > 0 then
  redis.call('XACK', KEYS[2], ARGV[1], entry)
  redis.call('XDEL', KEYS[2], entry)
  return {'more'}
end
redis.call('HSET', KEYS[1], 'entry', entry, 'worker_id', runner)
local ends = {'last'}
for other = 0, job_count(KEYS[1]) - 1 do
  table.insert(ends, redis.call('HGET', KEYS[1], job_field(other, 'end')) or '')
end
return ends
