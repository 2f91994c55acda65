-- post.lua - POST one ticket per request, taken in turn from a JSON-lines
-- file (the corpus of bench/gen_tickets).
--
--   wrk -s bench/wrk/post.lua URL -- FILE PATH TOKEN [unique TAG]
--
-- With "unique", each request gets a ticket id of its own
-- (B<TAG>.<thread>-<n>), so that every POST /v1/tickets creates a ticket: a
-- durable write.
-- done() prints one line for bench/service.sh (see report.lua).
package.path = "bench/wrk/?.lua;" .. package.path
local report = require("report")

local threads = {}
local counter = 1

function setup(thread)
    thread:set("tid", counter)
    counter = counter + 1
    table.insert(threads, thread)
end

local reqs, heads, tails, n, i = {}, {}, {}, 0, 0
local unique, tag = false, ""

function init(args)
    local file, path, token = args[1], args[2], args[3]
    unique = args[4] == "unique"
    tag = args[5] or ""
    local headers = {["Content-Type"] = "application/json"}
    if token and token ~= "" then
        headers["Authorization"] = "Bearer " .. token
    end
    wrk.method = "POST"
    wrk.path = path
    wrk.headers = headers
    for line in io.lines(file) do
        if #line > 0 then
            n = n + 1
            if unique then
                -- The ticket's id is the document's first member.
                local s, e = line:find('"id":"[^"]*"')
                heads[n] = line:sub(1, s + 5)
                tails[n] = line:sub(e)
            else
                reqs[n] = wrk.format(nil, nil, nil, line)
            end
        end
    end
    i = 0
end

function request()
    i = i + 1
    local k = (i - 1) % n + 1
    if unique then
        return wrk.format(nil, nil, nil, heads[k] .. "B" .. tag .. "." .. tid .. "-" .. i .. tails[k])
    end
    return reqs[k]
end

done = report.done
