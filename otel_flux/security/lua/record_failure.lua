-- Record one failed login.
--
-- KEYS: 1 address failure log, 2 account failure log, 3 reputation, 4 ban, 5 offences
-- ARGV: 1 unique log member, 2 account known (0/1), 3 brute-force threshold,
--       4 brute-force window ms, 5 recovery per ms, 6 failed-login penalty,
--       7 ban base ms, 8 ban max ms, 9 ban jitter fraction, 10 offence memory ms
-- Returns {address failures, account failures, reputation, ban ms (0 if no new ban)}.
--
-- The address is banned when its failures reach the threshold or its reputation
-- reaches 0, unless a ban is already running (concurrent failures from one
-- burst count as one offence). Each log keeps only its newest threshold
-- entries, which is all the checks need, so a log's size is bounded.

local member, account = ARGV[1], ARGV[2] == '1'
local threshold, window_ms = tonumber(ARGV[3]), tonumber(ARGV[4])
local recovery_per_ms, penalty = tonumber(ARGV[5]), tonumber(ARGV[6])
local ban_params = {
  base_ms = tonumber(ARGV[7]), max_ms = tonumber(ARGV[8]), jitter = tonumber(ARGV[9]),
  offence_ttl_ms = tonumber(ARGV[10]), recovery_per_ms = recovery_per_ms,
}
local now = now_ms()

local function log_add(key)
  log_trim(key, now, window_ms)
  redis.call('ZADD', key, now, member)
  redis.call('ZREMRANGEBYRANK', key, 0, -(threshold + 1))
  redis.call('PEXPIRE', key, window_ms)
  return redis.call('ZCARD', key)
end

local address_failures = log_add(KEYS[1])
local account_failures = 0
if account then
  account_failures = log_add(KEYS[2])
end

local reputation = reputation_read(KEYS[3], now, recovery_per_ms) - penalty
reputation = reputation_write(KEYS[3], reputation, now, recovery_per_ms)
local length = 0
if (address_failures >= threshold or reputation <= 0) and redis.call('EXISTS', KEYS[4]) == 0 then
  length = ban(KEYS[4], KEYS[5], KEYS[3], now, ban_params)
  reputation = 0
end
return {address_failures, account_failures, math.floor(reputation), length}
