-- wrk script of the load harness: GET every path of a file in turn, and
-- print the summary as one parseable line.
--   wrk -t2 -c64 -d8s -s bench.lua http://127.0.0.1:PORT -- PATHS_FILE THREADS
-- PATHS_FILE holds one request path a line ("/Ab3dE9x"); thread k of
-- THREADS starts at line k*n/THREADS, so threads do not walk in lockstep.

local threads_made = 0

function setup(thread)
  thread:set("tid", threads_made)
  threads_made = threads_made + 1
end

-- Every request looks like a browser's, so the worker classifies the clicks
-- as human and applies the full set of analytics.
wrk.headers["User-Agent"] = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"

local paths, n, i = {}, 0, 0

function init(args)
  for line in io.lines(args[1]) do
    n = n + 1
    paths[n] = line
  end
  local count = tonumber(args[2]) or 1
  i = math.floor(n * (tid or 0) / count)
end

function request()
  i = i + 1
  if i > n then i = 1 end
  return wrk.format(nil, paths[i])
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "WRKRESULT requests=%d duration_us=%d bytes=%d connect=%d read=%d write=%d status=%d timeout=%d " ..
    "mean_us=%.1f p50_us=%d p90_us=%d p99_us=%d p999_us=%d max_us=%d\n",
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status, e.timeout,
    latency.mean, latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency:percentile(99.9), latency.max))
end
