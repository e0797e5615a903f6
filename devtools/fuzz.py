"""`make fuzz`: schemathesis against the whole local stack for a bounded time, as a portal user and as an admin.

Starts `python -m devtools.run` on free loopback ports (the same stack as `make run`), then runs the
schemathesis CLI over `/openapi.json` twice — portal and public routes with user A's token, `/admin` routes with
the admin token — in every phase (examples, coverage, fuzzing, stateful), checking that no answer is a server
error and that every answer matches the document. Exits non-zero on any failure; stops the stack either way.

FUZZ_SECONDS (default 300) is the whole budget, split between the two runs; CI uses a shorter one.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from devtools import background
from devtools.processes import PROJECT_DIR

CHECKS = "not_a_server_error,response_schema_conformance"
# One worker: hypothesis inspects lambdas with ast.parse, which CPython 3.11 cannot run from several threads at
# once ("AST constructor recursion depth mismatch").
PHASES = "examples,coverage,fuzzing,stateful"


def schemathesis(base_url: str, token: str, seconds: int, path_filter: list[str]) -> int:
    argv = [str(Path(sys.executable).with_name("schemathesis")), "run", f"{base_url}/openapi.json",
            "--url", base_url, "--checks", CHECKS, "--phases", PHASES, "--max-time", str(seconds),
            "--workers", "1", "--request-timeout", "30", "--suppress-health-check", "all",
            "-H", f"Authorization: Bearer {token}", *path_filter]
    shown = ["'Authorization: Bearer <token>'" if "Bearer" in arg else arg for arg in argv[1:]]
    print("fuzz: schemathesis " + " ".join(shown), flush=True)
    return subprocess.run(argv, cwd=PROJECT_DIR).returncode


def main() -> int:
    budget = int(os.environ.get("FUZZ_SECONDS", "300"))
    with tempfile.TemporaryDirectory() as tmp:
        try:
            stack = background.start(Path(tmp) / "stack.log")
        except RuntimeError as exc:
            raise SystemExit(f"fuzz: {exc}") from exc
        base_url = stack.base_url
        try:
            tokens = json.loads((PROJECT_DIR / ".local" / "demo-tokens.json").read_text())
            portal = schemathesis(base_url, tokens["userA"], max(1, budget // 2),
                                  ["--exclude-path-regex", "^/admin"])
            admin = schemathesis(base_url, tokens["admin"], max(1, budget - budget // 2),
                                 ["--include-path-regex", "^/admin"])
        finally:
            stack.stop()
    failed = [name for name, code in (("portal", portal), ("admin", admin)) if code != 0]
    print("fuzz: " + (f"failures in the {' and '.join(failed)} run(s)" if failed else "0 server errors, "
                      "0 schema violations"), flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
