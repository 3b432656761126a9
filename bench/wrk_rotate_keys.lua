-- wrk script for bench/http_bench.sh: GET of the URL's path (/v1/auth) with the X-API-Key header
-- rotated per request over the keys in a file (one per line), passed after "--":
--   wrk -t2 -c64 -d10s --latency -s bench/wrk_rotate_keys.lua URL -- KEYS_FILE [SCOPE]
-- Requests are formatted once in init(), so wrk spends no Lua time per request beyond a table
-- lookup; each wrk thread starts at a different offset so the threads do not move in lockstep.

local thread_count = 0

function setup(thread)
  thread:set("thread_index", thread_count)
  thread_count = thread_count + 1
end

local requests = {}
local next_index = 0

function init(args)
  local path = args[1]
  if path == nil then
    error("usage: wrk ... -s wrk_rotate_keys.lua URL -- KEYS_FILE [SCOPE]")
  end
  local scope = args[2]
  for key in io.lines(path) do
    if key ~= "" then
      local headers = { ["X-API-Key"] = key }
      if scope ~= nil and scope ~= "" then headers["X-Required-Scope"] = scope end
      requests[#requests + 1] = wrk.format("GET", wrk.path, headers)
    end
  end
  if #requests == 0 then error("no keys in " .. path) end
  next_index = ((thread_index or 0) * 7919) % #requests
end

function request()
  next_index = next_index % #requests + 1
  return requests[next_index]
end

-- After the run: the latency distribution beyond wrk's --latency table, one line that
-- bench/report.sh reads ("latency-percentiles-us: 50=... 99.9=...").
function done(summary, latency, requests)
  local line = "latency-percentiles-us:"
  for _, p in ipairs({ 50, 75, 90, 95, 99, 99.5, 99.9, 99.99 }) do
    line = line .. string.format(" %s=%d", tostring(p), latency:percentile(p))
  end
  io.write(line .. "\n")
end
