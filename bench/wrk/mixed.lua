-- Replay a prepared mix, round robin. One line per request, tab-separated:
--   G <path>                          a GET
--   P <path> <cookie> <json body>     an authenticated PATCH
local dir = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
dofile(dir .. "report.lua")

local requests_list = {}
local position = 0

function init(args)
  for line in io.lines(args[1]) do
    local kind, path, cookie, body = line:match("^(%u)\t([^\t]+)\t?([^\t]*)\t?(.*)$")
    if kind == "G" then
      requests_list[#requests_list + 1] = wrk.format("GET", path)
    elseif kind == "P" then
      local headers = {["Cookie"] = cookie, ["Content-Type"] = "application/json",
                       ["Host"] = wrk.headers["Host"]}
      requests_list[#requests_list + 1] = wrk.format("PATCH", path, headers, body)
    end
  end
  -- wrk calls request() once per thread before connecting and discards the result: start
  -- one step back so that call takes the last line and the first request sent is line 1.
  position = #requests_list - 1
  assert(#requests_list > 0, "no requests in " .. args[1])
end

function request()
  position = position % #requests_list + 1
  return requests_list[position]
end
