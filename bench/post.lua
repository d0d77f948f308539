-- wrk script: POST the JSON body in the file named by the first script argument (with
-- the API key in the second, if any), and print one machine-readable summary line
-- (latencies in microseconds) when done.
--   wrk -t1 -c64 -d5s -s post.lua http://127.0.0.1:8000/v1/chat/completions -- body.json [key]

local request_bytes

function init(args)
  local file = assert(io.open(args[1], "rb"))
  wrk.method = "POST"
  wrk.body = file:read("*a")
  file:close()
  wrk.headers["Content-Type"] = "application/json"
  if args[2] then
    wrk.headers["Authorization"] = "Bearer " .. args[2]
  end
  request_bytes = wrk.format()
end

function request()
  return request_bytes
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "BENCH_JSON {\"requests\":%d,\"duration_us\":%d,\"bytes\":%d,"
      .. "\"errors\":{\"connect\":%d,\"read\":%d,\"write\":%d,\"status\":%d,\"timeout\":%d},"
      .. "\"latency_us\":{\"p50\":%d,\"p90\":%d,\"p99\":%d,\"mean\":%.1f,\"max\":%d}}\n",
    summary.requests, summary.duration, summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency.mean, latency.max))
end
