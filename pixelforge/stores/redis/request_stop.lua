-- A stop request (interrupt or skip) stored on a task, or a queued task cancelled.
-- KEYS: task, events, queue, active, queued
-- ARGV: id, group, request JSON, action, now, event time, cancelled event data
-- An interrupt cancels a queued task (returns its event's seq); a running task keeps the request, never
-- downgrading a stop (StopRequest.rank: skip < interrupt after the job < interrupt now; StopRequest.yields_to states
-- the rule, tests/tasks/test_store_contract_stop_rules.py checks this script against it). Returns false for an
-- unknown task, else {state, seq or 0}.
-- A split task: an interrupt drops its jobs that have not started; a skip names the jobs running now (none: no
-- skip is kept).
-- Uses: _append.lua, _release.lua, _jobs.lua
local function stop_rank(request)
  if request.action == 'skip' then return 0 end
  if request.when == 'after_job' then return 1 end
  return 2
end
local state = redis.call('HGET', KEYS[1], 'state')
if not state then return false end
if state == 'queued' and ARGV[4] == 'interrupt' then
  redis.call('HSET', KEYS[1], 'state', 'cancelled', 'finished_at', ARGV[5], 'stop_reason', 'cancelled')
  drop_waiting(KEYS[1], KEYS[3], ARGV[2], false)
  release(KEYS[1], KEYS[3], ARGV[2], KEYS[4], KEYS[5], ARGV[1])
  return {'cancelled', append(KEYS[1], KEYS[2], 'cancelled', ARGV[6], ARGV[7])}
end
if state == 'running' then
  local existing = redis.call('HGET', KEYS[1], 'stop_request')
  if not (existing and existing ~= '' and stop_rank(cjson.decode(existing)) > stop_rank(cjson.decode(ARGV[3]))) then
    local request = ARGV[3]
    if job_count(KEYS[1]) > 0 and ARGV[4] == 'skip' then
      local decoded = cjson.decode(request)
      decoded.jobs = jobs_in(KEYS[1], 'running')
      request = #decoded.jobs > 0 and cjson.encode(decoded) or existing
    end
    redis.call('HSET', KEYS[1], 'stop_request', request or '')
  end
  if job_count(KEYS[1]) > 0 and ARGV[4] == 'interrupt' then drop_waiting(KEYS[1], KEYS[3], ARGV[2], true) end
end
return {state, 0}
