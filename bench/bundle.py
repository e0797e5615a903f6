"""Cold start of the deployed bundle: `import app` from the unzipped `chalice package` output, with and without
the precompiled .pyc files (devtools/precompile.py), in a fresh interpreter each time (no site-packages, no
bytecode writing), as a Lambda cold start imports it. Median of several runs, in milliseconds."""
from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from devtools.environment import DUMMY_AWS, chalice_stage_env
from devtools.precompile import precompile_zip
from devtools.processes import PROJECT_DIR

RUNS = 5
MEASURE = "import time; t = time.perf_counter(); import app; print((time.perf_counter() - t) * 1000)"


def _import_ms(root: Path, env: dict) -> float:
    samples = []
    for _ in range(RUNS):
        out = subprocess.run([sys.executable, "-S", "-B", "-c", MEASURE], cwd=root, env={**env, "PYTHONPATH": str(root)},
                             capture_output=True, text=True, check=True).stdout
        samples.append(float(out.strip().splitlines()[-1]))
    return round(statistics.median(samples), 1)


def figures() -> dict:
    with tempfile.TemporaryDirectory() as scratch:
        out = Path(scratch) / "package"
        env = {**os.environ, **DUMMY_AWS, "AWS_DEFAULT_REGION": "us-east-1"}
        subprocess.run([str(Path(sys.executable).parent / "chalice"), "package", "--stage", "dev", str(out)],
                       cwd=PROJECT_DIR, env=env, check=True, capture_output=True)
        plain, compiled = Path(scratch) / "plain", Path(scratch) / "compiled"
        with zipfile.ZipFile(out / "deployment.zip") as archive:
            archive.extractall(plain)
        precompile_zip(out / "deployment.zip")
        with zipfile.ZipFile(out / "deployment.zip") as archive:
            archive.extractall(compiled)
        lambda_env = {"PATH": os.environ.get("PATH", ""), **DUMMY_AWS, **chalice_stage_env("dev")}
        return {"cold_import_bundle_ms": _import_ms(compiled, lambda_env),
                "cold_import_bundle_ms_without_pyc": _import_ms(plain, lambda_env)}


if __name__ == "__main__":
    print(figures())
