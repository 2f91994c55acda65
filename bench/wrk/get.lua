-- get.lua - GET one path, with a bearer token when one is given.
--
--   wrk -s bench/wrk/get.lua URL/PATH -- [TOKEN]
package.path = "bench/wrk/?.lua;" .. package.path
local report = require("report")

function init(args)
    if args[1] and args[1] ~= "" then
        wrk.headers["Authorization"] = "Bearer " .. args[1]
    end
end

done = report.done
