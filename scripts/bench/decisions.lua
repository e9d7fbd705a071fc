-- wrk script: each request asks the decision for a random subject of the
-- benchmark ledger (ids from SUBJECTS, one per line) and the marketing purpose.
local ids = {}
local token = os.getenv("TOKEN")
for line in io.lines(os.getenv("SUBJECTS")) do
  ids[#ids + 1] = line
end
math.randomseed(os.time())
request = function()
  local id = ids[math.random(#ids)]
  return wrk.format("GET", "/api/v1/subjects/" .. id .. "/decisions/marketing",
    { ["Authorization"] = "Bearer " .. token })
end
