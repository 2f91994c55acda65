-- report.lua - the line wrk's done() prints for bench/service.sh:
--
--   WRK requests=N duration_s=S rps=R p50_ms=X p90_ms=X p99_ms=X max_ms=X
--       non2xx=N errors=N bytes=N
--
-- non2xx counts answers with a status of 400 or more (wrk's "status"
-- errors); errors adds connect, read, write and timeout errors.
local M = {}

function M.done(summary, latency, requests)
    local e = summary.errors
    io.write(string.format(
        "WRK requests=%d duration_s=%.3f rps=%.1f p50_ms=%.3f p90_ms=%.3f " ..
        "p99_ms=%.3f max_ms=%.3f non2xx=%d errors=%d bytes=%d\n",
        summary.requests, summary.duration / 1e6,
        summary.requests / (summary.duration / 1e6),
        latency:percentile(50) / 1e3, latency:percentile(90) / 1e3,
        latency:percentile(99) / 1e3, latency.max / 1e3,
        e.status, e.connect + e.read + e.write + e.timeout, summary.bytes))
end

return M
