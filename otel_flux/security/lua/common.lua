-- Helpers shared by the security scripts. The loader puts this file in front of
-- each script, because Redis runs every script as one self-contained chunk.
--
-- Times are integer milliseconds from Redis TIME, so every app instance uses
-- the same clock whatever its own clock reads. Reputation is a hash with the
-- score "s" (0 to 100) as of the time "t"; a missing hash means 100.

local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

local function reputation_read(key, now, recovery_per_ms)
  local fields = redis.call('HMGET', key, 's', 't')
  if not fields[1] then
    return 100
  end
  local elapsed = math.max(0, now - tonumber(fields[2]))
  return math.min(100, tonumber(fields[1]) + elapsed * recovery_per_ms)
end

-- Store a score; the hash expires when the score would have recovered to 100,
-- which is the value a missing hash stands for.
local function reputation_write(key, score, now, recovery_per_ms)
  score = math.max(0, score)
  if score >= 100 then
    redis.call('DEL', key)
    return 100
  end
  redis.call('HSET', key, 's', score, 't', now)
  redis.call('PEXPIRE', key, math.ceil((100 - score) / recovery_per_ms) + 1000)
  return score
end

-- Ban an address: each offence within the offence memory doubles the length,
-- the jitter lengthens it by the given fraction, and the cap bounds the result.
-- A ban also drops the reputation to 0.
local function ban(ban_key, offences_key, rep_key, now, params)
  local offences = redis.call('INCR', offences_key)
  redis.call('PEXPIRE', offences_key, params.offence_ttl_ms)
  local length = params.base_ms * 2 ^ (offences - 1) * (1 + params.jitter)
  length = math.max(1, math.floor(math.min(length, params.max_ms)))
  redis.call('SET', ban_key, offences, 'PX', length)
  reputation_write(rep_key, 0, now, params.recovery_per_ms)
  return length
end

-- Drop log entries older than the window; return how many remain.
local function log_trim(key, now, window_ms)
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window_ms)
  return redis.call('ZCARD', key)
end

-- Milliseconds until a log holding count >= limit entries admits one more:
-- the entry at rank count - limit must leave the window first.
local function log_retry_after(key, now, window_ms, count, limit)
  local entry = redis.call('ZRANGE', key, count - limit, count - limit, 'WITHSCORES')
  return math.max(1, tonumber(entry[2]) + window_ms - now)
end
