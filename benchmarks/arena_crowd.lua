-- The arena's looping crowd for wrk (benchmarks/bench_arena_load.py, `--pg-client wrk`).
--
-- Run with as many threads as connections (`wrk -t32 -c32`): each wrk thread then
-- holds one keep-alive connection and is one voter, keeping its own visitor cookie,
-- taking a battle and voting on it, again and again.  wrk is a C program, so the
-- crowd costs a few microseconds of CPU per request where a Python client costs
-- milliseconds: on a small machine the crowd then leaves the cores to the servers
-- it is measuring.  `done` prints the acknowledged votes for the benchmark to read.

local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  cookie, battle, csrf, acked, errors, voting = nil, nil, nil, 0, 0, false
  pause_ms = tonumber(args[1]) or 0  -- `-- MS`: the voter pauses about this long before each battle
end

function delay()
  if voting or pause_ms == 0 then return 0 end
  return math.floor(pause_ms * (0.8 + 0.4 * math.random()))
end

function request()
  local headers = {}
  if cookie then headers["Cookie"] = cookie end
  if not voting then
    return wrk.format("GET", "/api/arena/battle", headers)
  end
  headers["Content-Type"] = "application/json"
  headers["X-CSRF-Token"] = csrf
  local choices = {"a", "b", "tie"}
  local body = string.format('{"battle_id":"%s","choice":"%s"}', battle, choices[math.random(3)])
  return wrk.format("POST", "/api/arena/votes", headers, body)
end

function response(status, headers, body)
  local set = headers["set-cookie"] or headers["Set-Cookie"]
  if set then cookie = set:match("^([^;]+)") end
  if not voting then
    if status == 200 then
      battle = body:match('"battle_id"%s*:%s*"([^"]+)"')
      csrf = body:match('"csrf"%s*:%s*"([^"]+)"')
      voting = battle ~= nil and csrf ~= nil
    end
    if not voting then errors = errors + 1 end
    return
  end
  if status == 200 then acked = acked + 1 else errors = errors + 1 end
  voting = false
end

function done(summary, latency, requests)
  local total_acked, total_errors = 0, 0
  for _, thread in ipairs(threads) do
    total_acked = total_acked + thread:get("acked")
    total_errors = total_errors + thread:get("errors")
  end
  io.write(string.format("GAUNTLET acked=%d errors=%d seconds=%.3f p50_us=%d p99_us=%d\n", total_acked,
                         total_errors, summary.duration / 1e6, latency:percentile(50), latency:percentile(99)))
end
