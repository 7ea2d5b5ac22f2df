-- wrk script for scripts/loadtest: POSTs getProduct for ids 1..40 in turn (each thread
-- starting at its own id), with `Authorization: Bearer $LOADTEST_TOKEN` when that is set.
-- At the end it prints one line scripts/loadtest reads:
--   LOADTEST <requests> <seconds> <p50 ms> <p99 ms> <non-2xx> <socket errors>

local ids = 40
local token = os.getenv("LOADTEST_TOKEN")
local headers = { ["Content-Type"] = "application/json" }
if token ~= nil and token ~= "" then
  headers["Authorization"] = "Bearer " .. token
end

local requests = {}
for id = 1, ids do
  local body = '{"operationName":"getProduct","variables":{"id":' .. id .. '}}'
  requests[id] = wrk.format("POST", "/api/v1/graphql", headers, body)
end

local next_id = 0

function setup(thread)
  thread:set("first", math.random(0, ids - 1))
end

function init(args)
  next_id = first or 0
end

function request()
  next_id = next_id % ids + 1
  return requests[next_id]
end

function done(summary, latency, _)
  local e = summary.errors
  io.write(string.format("LOADTEST %d %.3f %.3f %.3f %d %d\n",
    summary.requests,
    summary.duration / 1e6,
    latency:percentile(50) / 1000,
    latency:percentile(99) / 1000,
    e.status,
    e.connect + e.read + e.write + e.timeout))
end
