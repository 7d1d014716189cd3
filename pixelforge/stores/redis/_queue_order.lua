-- Helper functions, prepended to each script whose header names this file in its 'Uses:' line (EVAL has no
-- import); no KEYS or ARGV of their own. The queue's order as pixelforge/tasks/queue_order.py states it: each
-- queued task's rank is its score in the queued set, each identity's turn its score in the turns set (absent:
-- never served, the turn ``never``).
-- Whether stream entry id ``a`` comes at or before ``b`` ('<ms>-<seq>').
local function entry_at_or_before(a, b)
  local a_ms, a_seq = string.match(a, '(%d+)-(%d+)')
  local b_ms, b_seq = string.match(b, '(%d+)-(%d+)')
  a_ms, b_ms = tonumber(a_ms), tonumber(b_ms)
  return a_ms < b_ms or (a_ms == b_ms and tonumber(a_seq) <= tonumber(b_seq))
end
-- The last entry the consumer group has delivered to any worker ('0-0' for none).
local function last_delivered(queue, group)
  for _, info in ipairs(redis.call('XINFO', 'GROUPS', queue)) do
    local fields = {}
    for i = 1, #info, 2 do fields[info[i]] = info[i + 1] end
    if fields['name'] == group then return fields['last-delivered-id'] end
  end
  return '0-0'
end
-- The first queued whole task in the policy's order that the claim of ``own``'s entry may run: fifo, the lowest
-- rank; fair, the lowest-ranked task of the identity served least recently. Left out: the tasks split into jobs
-- (each of their entries runs its own job) and those whose entry is already delivered to another worker (it
-- claims them itself: one handed to the worker holding its model, or read just now).
local function first_in_order(queued, turns, prefix, policy, never, queue, group, own)
  local delivered = last_delivered(queue, group)
  local best, best_turn = nil, nil
  local owner_turns = {}
  for _, task_id in ipairs(redis.call('ZRANGE', queued, 0, -1)) do
    local fields = redis.call('HMGET', prefix .. task_id, 'owner', 'jobs', 'entry')
    local whole = fields[1] and (not fields[2] or tonumber(fields[2]) == 0)
    if whole and (task_id == own or not fields[3] or not entry_at_or_before(fields[3], delivered)) then
      if policy == 'fifo' then return task_id end
      local turn = owner_turns[fields[1]]
      if turn == nil then
        turn = tonumber(redis.call('ZSCORE', turns, fields[1]) or never)
        owner_turns[fields[1]] = turn
      end
      if best == nil or turn < best_turn then best, best_turn = task_id, turn end
    end
  end
  return best
end
-- The identity whose task starts goes to the back of the turns (kept under either policy).
local function take_turn(turns, owner, never)
  local last = redis.call('ZRANGE', turns, -1, -1, 'WITHSCORES')
  local top = tonumber(never)
  if last[2] and tonumber(last[2]) > top then top = tonumber(last[2]) end
  redis.call('ZADD', turns, top + 1, owner)
end
-- The place (1 = next) of queued task ``task_id`` in the policy's order (serving_order in queue_order.py):
-- under fair, each identity ahead of its owner in the turns has as many tasks ahead of it as the task's own index
-- among its owner's plus one, each other identity as many as that index, both bounded by what the identity has.
local function place_of(queued, turns, prefix, policy, never, task_id)
  if policy == 'fifo' then return redis.call('ZRANK', queued, task_id) + 1 end
  local counts, keys, order = {}, {}, 0
  local mine, index = nil, 0
  for _, queued_id in ipairs(redis.call('ZRANGE', queued, 0, -1)) do
    local owner = redis.call('HGET', prefix .. queued_id, 'owner') or ''
    if counts[owner] == nil then
      order = order + 1
      counts[owner] = 0
      keys[owner] = {tonumber(redis.call('ZSCORE', turns, owner) or never), order}
    end
    if queued_id == task_id then mine, index = owner, counts[owner] end
    counts[owner] = counts[owner] + 1
  end
  local place = index + 1
  for owner, count in pairs(counts) do
    if owner ~= mine then
      local theirs, ours = keys[owner], keys[mine]
      local ahead = index
      if theirs[1] < ours[1] or (theirs[1] == ours[1] and theirs[2] < ours[2]) then ahead = index + 1 end
      place = place + math.min(count, ahead)
    end
  end
  return place
end
