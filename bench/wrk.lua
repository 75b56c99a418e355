-- wrk script of bench/run_bench.py: requests from a file, a JSON summary at the end.
--
--   wrk -t2 -c16 -d10s -s bench/wrk.lua http://127.0.0.1:8765 -- REQUESTS_FILE
--
-- REQUESTS_FILE has one request per line, tab-separated:
--   METHOD  PATH  TOKEN_VARIABLE  [JSON_BODY]
-- TOKEN_VARIABLE names an environment variable holding a JWT access token
-- (sent as "Authorization: Bearer ..."). Each wrk thread goes round the list,
-- starting at a different line, so sends and marks spread over many threads.
-- done() prints one line "BENCH_JSON {...}" with the counts and latency
-- percentiles in microseconds, which run_bench.py reads.

local thread_count = 0

function setup(thread)
   thread:set("thread_index", thread_count)
   thread_count = thread_count + 1
end

function init(args)
   local file = assert(io.open(args[1], "r"))
   requests = {}
   for line in file:lines() do
      if line ~= "" then
         local method, path, token_variable, body = line:match("^([^\t]+)\t([^\t]+)\t([^\t]+)\t?(.*)$")
         assert(method, "bad request line: " .. line)
         local token = assert(os.getenv(token_variable), "environment variable " .. token_variable .. " not set")
         -- X-Forwarded-Proto: as behind the TLS proxy of a deployment (plain HTTP is redirected).
         local headers = {
            ["Authorization"] = "Bearer " .. token,
            ["Accept"] = "application/json",
            ["X-Forwarded-Proto"] = "https",
         }
         if body == "" then
            body = nil
         else
            headers["Content-Type"] = "application/json"
         end
         requests[#requests + 1] = wrk.format(method, path, headers, body)
      end
   end
   file:close()
   assert(#requests > 0, "no requests in " .. args[1])
   -- Spread the threads' starting points over the list.
   position = math.floor(thread_index * #requests / 2) % #requests
end

function request()
   position = position % #requests + 1
   return requests[position]
end

function done(summary, latency, requests)
   local e = summary.errors
   io.write(string.format(
      'BENCH_JSON {"requests": %d, "duration_us": %d, "bytes": %d, ' ..
      '"errors": {"connect": %d, "read": %d, "write": %d, "status": %d, "timeout": %d}, ' ..
      '"latency_us": {"p50": %d, "p90": %d, "p99": %d, "mean": %.1f, "max": %d}}\n',
      summary.requests, summary.duration, summary.bytes,
      e.connect, e.read, e.write, e.status, e.timeout,
      latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.mean, latency.max))
end
