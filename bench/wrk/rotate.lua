-- GET every path listed in the file named by the first script argument, in order, round robin.
-- Requests are formatted once in init(), so the hot loop only returns a prebuilt string.
local dir = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
dofile(dir .. "report.lua")

local requests_list = {}
local position = 0

function init(args)
  for line in io.lines(args[1]) do
    if #line > 0 then
      requests_list[#requests_list + 1] = wrk.format("GET", line)
    end
  end
  -- wrk calls request() once per thread before connecting and discards the result: start
  -- one step back so that call takes the last line and the first request sent is line 1.
  position = #requests_list - 1
  assert(#requests_list > 0, "no paths in " .. args[1])
end

function request()
  position = position % #requests_list + 1
  return requests_list[position]
end
