-- post-tickets.lua - wrk script: POST /v1/tickets with a new ticket id on
-- every request (a thread number and a counter), so that every request is
-- a durable insert, never an update of a ticket already stored.
--
--   TOKEN=... wrk -t2 -c64 -d10s -s bench/store/post-tickets.lua http://127.0.0.1:PORT
--
-- The summary line "writes/s N" counts 2xx answers only; "errors N" counts
-- the rest (non-2xx and socket errors).

local threads = {}
local counter = 0

function setup(thread)
    counter = counter + 1
    thread:set("tid", counter)
    table.insert(threads, thread)
end

function init(args)
    n = 0
    ok = 0
    bad = 0
    token = os.getenv("TOKEN") or "agent-token-0002"
    prefix = os.getenv("PREFIX") or "B"
    wrk.method = "POST"
    wrk.path = "/v1/tickets"
    wrk.headers["Content-Type"] = "application/json"
    wrk.headers["Authorization"] = "Bearer " .. token
end

function request()
    n = n + 1
    local body = string.format(
        '{"id":"%s-%d-%d","channel":"chat","status":"open","level":"l1",' ..
        '"customer":{"id":"C-%d","tier":"standard"},' ..
        '"messages":[{"from":"customer","at":"2026-11-23T11:00:00Z",' ..
        '"text":"How do I change my plan? Ticket %d of thread %d."}]}',
        prefix, tid, n, n % 1000, n, tid)
    return wrk.format(nil, nil, nil, body)
end

function response(status, headers, body)
    if status >= 200 and status < 300 then
        ok = ok + 1
    else
        bad = bad + 1
    end
end

function done(summary, latency, requests)
    local good, failed = 0, 0
    for _, t in ipairs(threads) do
        good = good + t:get("ok")
        failed = failed + t:get("bad")
    end
    local secs = summary.duration / 1e6
    failed = failed + summary.errors.connect + summary.errors.read +
             summary.errors.write + summary.errors.timeout
    io.write(string.format("writes/s %.0f\nacknowledged %d\nerrors %d\n" ..
                           "latency p50 %.2f ms p99 %.2f ms\n",
                           good / secs, good, failed,
                           latency:percentile(50) / 1000,
                           latency:percentile(99) / 1000))
end
