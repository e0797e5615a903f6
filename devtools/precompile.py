"""Precompile a Lambda bundle: add `.pyc` files for Python 3.11 to the deployment zip.

Lambda's code directory is read-only, so without them every cold start compiles every module it imports. The
files are unchecked-hash pycs (PEP 552): valid whatever the extracted files' timestamps, and they match the
sources because both come from the same package step. Must run on the runtime's Python version (3.11).
"""
from __future__ import annotations

import compileall
import py_compile
import shutil
import sys
import tempfile
import zipfile
from pathlib import Path

RUNTIME = (3, 11)


def precompile_zip(bundle: Path) -> int:
    """Rewrite `bundle` with a `__pycache__/*.cpython-311.pyc` next to every module. Returns how many .pyc it holds."""
    if sys.version_info[:2] != RUNTIME:
        raise RuntimeError(f"precompile with Python {RUNTIME[0]}.{RUNTIME[1]}, the Lambda runtime "
                           f"(this is {sys.version_info[0]}.{sys.version_info[1]})")
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch) / "bundle"
        with zipfile.ZipFile(bundle) as archive:
            archive.extractall(root)
            modes = {info.filename: info.external_attr for info in archive.infolist()}
        compileall.compile_dir(root, quiet=2, workers=0, invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH)
        rebuilt = Path(scratch) / "bundle.zip"
        count = 0
        with zipfile.ZipFile(rebuilt, "w", zipfile.ZIP_DEFLATED) as archive:
            for path in sorted(root.rglob("*")):
                if path.is_dir():
                    continue
                name = path.relative_to(root).as_posix()
                info = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))
                info.external_attr = modes.get(name, 0o644 << 16)
                info.compress_type = zipfile.ZIP_DEFLATED
                archive.writestr(info, path.read_bytes())
                count += name.endswith(".pyc")
        shutil.move(str(rebuilt), bundle)
    return count


if __name__ == "__main__":
    print(f"{precompile_zip(Path(sys.argv[1]))} .pyc files in {sys.argv[1]}")
