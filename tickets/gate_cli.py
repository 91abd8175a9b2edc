"""`changeprocess-gate`: the deployment gate for CI/CD pipelines (docs/api.md).

    changeprocess-gate CHG-42 [--environment production] [--wait 30m] [--interval 30s]

Asks `GET /api/v1/changes/{id}/gate/` of the server at `CHANGEPROCESS_URL` with the token
in `CHANGEPROCESS_TOKEN`. Exit status: 0 the pipeline may deploy now; 1 refused (every
reason printed, one per line); 2 a usage, connection or HTTP error (the message on standard
error). With `--wait` it asks again every `--interval` until allowed or the time is up; a
connection error or a server error (5xx) while waiting is retried, any other error ends it.

The standard library only, and nothing of the application: a pipeline image needs Python 3
and this one file (installed with the package, or copied).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Sequence
from typing import Any

ALLOWED, REFUSED, ERROR = 0, 1, 2
REQUEST_TIMEOUT_SECONDS = 30
_UNITS = {"s": 1, "m": 60, "h": 3600}
_DURATION = re.compile(r"(\d+)([smh]?)")


class GateError(Exception):
    """An answer that is not the gate's: exit status 2. `transient` when asking again
    later may succeed (no connection, a server error)."""

    def __init__(self, message: str, *, transient: bool = False) -> None:
        super().__init__(message)
        self.transient = transient


def duration(text: str) -> float:
    """Seconds in `90`, `90s`, `30m`, `1h` or `1h30m`."""
    parts = _DURATION.findall(text)
    if not text or "".join(n + u for n, u in parts) != text:
        raise argparse.ArgumentTypeError(f"not a duration: {text!r} (e.g. 90s, 30m, 1h30m)")
    return float(sum(int(n) * _UNITS[u or "s"] for n, u in parts))


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="changeprocess-gate",
        description="May this pipeline deploy the change now? Exit 0 allowed, 1 refused "
        "(reasons printed), 2 error. Reads CHANGEPROCESS_URL and CHANGEPROCESS_TOKEN.",
    )
    p.add_argument("change", help="the change: CHG-42 (or its id, 42)")
    p.add_argument(
        "--environment", help="the environment deployed to (uat, production); the change's own"
    )
    p.add_argument(
        "--wait",
        type=duration,
        default=0.0,
        help="keep asking until allowed, for at most this long (e.g. 30m)",
    )
    p.add_argument(
        "--interval", type=duration, default=30.0, help="between two questions (default 30s)"
    )
    return p


def ask(base_url: str, token: str, change: str, environment: str | None) -> dict[str, Any]:
    """The gate's answer, {"allowed", "reasons", "window"}; GateError for anything else."""
    query = urllib.parse.urlencode({"environment": environment} if environment else {})
    url = f"{base_url.rstrip('/')}/api/v1/changes/{urllib.parse.quote(change, safe='')}/gate/" + (
        f"?{query}" if query else ""
    )
    if urllib.parse.urlsplit(url).scheme not in ("http", "https"):
        raise GateError(f"CHANGEPROCESS_URL must start with https:// (or http://): {base_url}")
    request = urllib.request.Request(  # noqa: S310 - the scheme is checked above
        url,
        headers={
            "Authorization": f"Token {token}",
            "Accept": "application/json",
            "User-Agent": "changeprocess-gate",
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=REQUEST_TIMEOUT_SECONDS) as response:  # noqa: S310
            body = json.loads(response.read())
    except urllib.error.HTTPError as e:
        raise GateError(
            f"HTTP {e.code} from {url}: {_detail(e)}", transient=e.code >= 500
        ) from None
    except (urllib.error.URLError, OSError) as e:
        reason = getattr(e, "reason", e)
        raise GateError(f"cannot reach {base_url}: {reason}", transient=True) from None
    except ValueError:
        raise GateError(f"not a JSON answer from {url}") from None
    if not isinstance(body, dict) or not isinstance(body.get("allowed"), bool):
        raise GateError(f"not a gate answer from {url}: {str(body)[:200]}")
    return body


def _detail(error: urllib.error.HTTPError) -> str:
    try:
        return str(json.loads(error.read())["detail"])
    except (ValueError, KeyError, TypeError, OSError):
        return error.reason or "no detail"


def main(
    argv: Sequence[str] | None = None,
    *,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> int:
    args = parser().parse_args(argv)
    base_url = os.environ.get("CHANGEPROCESS_URL", "")
    token = os.environ.get("CHANGEPROCESS_TOKEN", "")
    if not base_url or not token:
        missing = [n for n, v in (("URL", base_url), ("TOKEN", token)) if not v]
        print(
            "changeprocess-gate: set " + " and ".join(f"CHANGEPROCESS_{n}" for n in missing),
            file=sys.stderr,
        )
        return ERROR
    deadline = clock() + args.wait
    last: list[str] | None = None
    while True:
        try:
            answer = ask(base_url, token, args.change, args.environment)
        except GateError as e:
            if not e.transient or clock() >= deadline:
                print(f"changeprocess-gate: {e}", file=sys.stderr)
                return ERROR
            print(f"changeprocess-gate: {e}; asking again", file=sys.stderr)
        else:
            if answer["allowed"]:
                where = args.environment or "its environment"
                print(f"{args.change} may be deployed to {where} now.")
                return ALLOWED
            reasons = [str(r) for r in answer.get("reasons") or []]
            if clock() >= deadline:
                for reason in reasons:
                    print(reason)
                return REFUSED
            if reasons != last:
                print("Waiting: " + " ".join(reasons), file=sys.stderr, flush=True)
                last = reasons
        # At least a second apart, whatever --interval says: a loop must not hammer the server.
        sleep(max(0.0, min(max(args.interval, 1.0), deadline - clock())))


if __name__ == "__main__":
    sys.exit(main())
