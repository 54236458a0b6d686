"""The Lua scripts of the Redis backend (each touches only keys of one namespace: one slot).

Contract of each script: see the storage contract (``storage/__init__.py``) and the
comment above it; ``RedisStorage`` registers them once per client.
"""

from __future__ import annotations

ACQUIRE = """
local ok = redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2])
local g = tonumber(redis.call('GET', KEYS[2]) or '0')
if ok then return {1, g} end
return {0, g}
"""

# KEYS: lock, generation, entry. ARGV[1] empty: read only, no lock.
CLAIM = """
local ok = false
if ARGV[1] ~= '' then ok = redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) end
local g = tonumber(redis.call('GET', KEYS[2]) or '0')
local entry = redis.call('GET', KEYS[3])
if ok then return {1, g, entry} end
return {0, g, entry}
"""

# KEYS: entry, lock, generation. The fast path's read: the entry if there is one (no
# lock attempted: whether it is fresh is for the caller to decode), else the fill lock
# with the generation snapshot, so a miss takes its lock in the round trip that found it.
# Replies: {2, 0, entry} | {1, generation} (locked) | {0, generation} (someone fills).
PEEK_CLAIM = """
local entry = redis.call('GET', KEYS[1])
if entry then return {2, 0, entry} end
local ok = redis.call('SET', KEYS[2], ARGV[1], 'NX', 'PX', ARGV[2])
local g = tonumber(redis.call('GET', KEYS[3]) or '0')
if ok then return {1, g} end
return {0, g}
"""

RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""

# KEYS: epoch, entry, lock, then (tag generation, tag members) pairs. ARGV[5]: the
# token whose lock to release whatever the verdict ('' releases nothing).
STORE = """
if ARGV[5] ~= '' and redis.call('GET', KEYS[3]) == ARGV[5] then redis.call('DEL', KEYS[3]) end
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 'epoch' end
local snapshot = tonumber(ARGV[2])
if #KEYS > 3 then
  -- one MGET for every tag generation: a list page carries a tag per post it shows
  local names = {}
  for i = 4, #KEYS, 2 do names[#names + 1] = KEYS[i] end
  local gens = redis.call('MGET', unpack(names))
  for i = 1, #names do
    if gens[i] and tonumber(gens[i]) > snapshot then return 'stale' end
  end
end
local retention = tonumber(ARGV[4])
redis.call('SET', KEYS[2], ARGV[3], 'PX', retention)
for i = 5, #KEYS, 2 do
  redis.call('SADD', KEYS[i], KEYS[2])
  if redis.call('PTTL', KEYS[i]) < retention then redis.call('PEXPIRE', KEYS[i], retention) end
end
return 'ok'
"""

# KEYS: epoch, generation, seq, then (tag generation, tag members) pairs.
INVALIDATE = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 'epoch' end
local g = redis.call('INCR', KEYS[2])
for i = 4, #KEYS, 2 do
  redis.call('SET', KEYS[i], g, 'PX', ARGV[3])
  local members = redis.call('SMEMBERS', KEYS[i + 1])
  for j = 1, #members, 500 do
    redis.call('UNLINK', unpack(members, j, math.min(j + 499, #members)))
  end
  redis.call('DEL', KEYS[i + 1])
end
local seq = tonumber(ARGV[2])
if seq > tonumber(redis.call('GET', KEYS[3]) or '-1') then redis.call('SET', KEYS[3], seq) end
return 'ok'
"""

# KEYS: epoch, seq. Moves to a new epoch when the store lost invalidations.
VERIFY = """
local epoch = redis.call('GET', KEYS[1])
local seq = redis.call('GET', KEYS[2])
if (not epoch) or (not seq) or tonumber(seq) < tonumber(ARGV[1]) then
  redis.call('SET', KEYS[1], ARGV[2])
  redis.call('SET', KEYS[2], ARGV[1])
  return ARGV[2]
end
return epoch
"""
