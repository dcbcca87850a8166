"""The wrk scripts, one per endpoint, and the parser of wrk's report (kept free of I/O for tests)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

JSON_HEADERS = 'wrk.headers["Content-Type"] = "application/json"\n'

HEALTH = ""

# GET /user with an access token drawn at random from those given after `--`.
USER = """
local tokens = {}
function init(args)
  for i = 1, #args do tokens[i] = args[i] end
end
function request()
  local token = tokens[math.random(#tokens)]
  return wrk.format("GET", "/user", {["Authorization"] = "Bearer " .. token})
end
"""

# The refresh grant rotates tokens: every response's new refresh token goes back in the queue,
# so a connection never presents a used token (give more tokens than connections: wrk also
# calls request() once before the run).
REFRESH = (
    JSON_HEADERS
    + """
local queue = {}
local head = 1
local tail = 0
function init(args)
  for i = 1, #args do tail = tail + 1; queue[tail] = args[i] end
end
function request()
  local token = queue[head]
  if token == nil then
    token = "exhausted"  -- every token was lost to a failed refresh: this request fails visibly
  else
    queue[head] = nil
    head = head + 1
  end
  return wrk.format("POST", "/token?grant_type=refresh_token", nil, '{"refresh_token":"' .. token .. '"}')
end
function response(status, headers, body)
  local token = string.match(body, '"refresh_token":"([^"]+)"')
  if token then tail = tail + 1; queue[tail] = token end
end
"""
)

# The password grant for a seeded user drawn at random: args are the user count and the password.
PASSWORD = (
    JSON_HEADERS
    + """
local users = 1
local password = ""
function init(args)
  users = tonumber(args[1])
  password = args[2]
end
function request()
  local email = "user" .. math.random(0, users - 1) .. "@bench.local"
  return wrk.format("POST", "/token?grant_type=password", nil,
    '{"email":"' .. email .. '","password":"' .. password .. '"}')
end
"""
)

# Sign-ups with fresh addresses: a run prefix, then a counter.
SIGNUP = (
    JSON_HEADERS
    + """
local prefix = ""
local password = ""
local counter = 0
function init(args)
  prefix = args[1]
  password = args[2]
end
function request()
  counter = counter + 1
  return wrk.format("POST", "/signup", nil,
    '{"email":"' .. prefix .. counter .. '@signup.bench.local","password":"' .. password .. '"}')
end
"""
)

SCRIPTS = {"health": HEALTH, "user": USER, "refresh": REFRESH, "password": PASSWORD, "signup": SIGNUP}


@dataclass(frozen=True)
class WrkResult:
    requests: int
    seconds: float
    rps: float
    p50_ms: float
    p99_ms: float
    non_2xx: int
    socket_errors: int

    @property
    def errors(self) -> int:
        return self.non_2xx + self.socket_errors

    def as_dict(self) -> dict[str, float | int]:
        return {
            "requests": self.requests,
            "seconds": self.seconds,
            "rps": self.rps,
            "p50_ms": self.p50_ms,
            "p99_ms": self.p99_ms,
            "non_2xx": self.non_2xx,
            "socket_errors": self.socket_errors,
        }


_UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}


def _duration_ms(text: str) -> float:
    match = re.fullmatch(r"([0-9.]+)(us|ms|s|m)", text)
    if match is None:
        raise ValueError(f"not a wrk duration: {text!r}")
    return float(match[1]) * _UNITS_MS[match[2]]


def parse_wrk(output: str) -> WrkResult:
    """Read requests, rate, p50/p99 and errors from `wrk --latency` output."""
    done = re.search(r"([0-9]+) requests in ([0-9.]+)(us|ms|s|m)", output)
    rps = re.search(r"Requests/sec:\s+([0-9.]+)", output)
    p50 = re.search(r"^\s+50%\s+(\S+)", output, re.MULTILINE)
    p99 = re.search(r"^\s+99%\s+(\S+)", output, re.MULTILINE)
    if not (done and rps and p50 and p99):
        raise ValueError(f"unexpected wrk output:\n{output}")
    non_2xx = re.search(r"Non-2xx or 3xx responses:\s+([0-9]+)", output)
    sockets = re.search(r"Socket errors: connect ([0-9]+), read ([0-9]+), write ([0-9]+), timeout ([0-9]+)", output)
    return WrkResult(
        requests=int(done[1]),
        seconds=_duration_ms(done[2] + done[3]) / 1000.0,
        rps=float(rps[1]),
        p50_ms=_duration_ms(p50[1]),
        p99_ms=_duration_ms(p99[1]),
        non_2xx=int(non_2xx[1]) if non_2xx else 0,
        socket_errors=sum(int(n) for n in sockets.groups()) if sockets else 0,
    )


def report(results: dict[str, WrkResult]) -> str:
    return json.dumps({name: r.as_dict() for name, r in results.items()}, indent=2)
