import os
import subprocess
import sys
from pathlib import Path


def _run(code: str, env: dict) -> str:
    src = str(Path(__file__).resolve().parents[1] / "src")
    env = {**env, "PYTHONPATH": src + os.pathsep + env.get("PYTHONPATH", "")}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         check=True)
    return out.stdout.strip()


def test_numba_cache_goes_to_user_cache_folder(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_CACHE_DIR"}
    env["XDG_CACHE_HOME"] = str(tmp_path)
    got = _run("import revertible, numba.core.config as c; print(c.CACHE_DIR)", env)
    assert got == str(tmp_path / "revertible" / "numba")


def test_numba_cache_dir_set_by_user_wins(tmp_path):
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path / "mine")}
    got = _run("import revertible, numba.core.config as c; print(c.CACHE_DIR)", env)
    assert got == str(tmp_path / "mine")


def test_license_file_is_apache_2():
    text = (Path(__file__).resolve().parents[1] / "LICENSE").read_text()
    assert "Apache License" in text and "Version 2.0, January 2004" in text
