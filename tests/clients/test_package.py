"""The library as it ships: a wheel built offline from clients/python, installed in a
fresh virtual environment, where `python -m licensing_client --help` runs."""

from __future__ import annotations

import subprocess
import sys
import venv
import zipfile
from pathlib import Path

import pytest

from .conftest import CLIENT_SRC

pytestmark = pytest.mark.slow

PROJECT = CLIENT_SRC.parent


def test_the_wheel_installs_in_a_fresh_venv_and_its_command_runs(tmp_path):
    wheels = tmp_path / "wheels"
    pip_wheel = ["pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index", "-w", str(wheels)]
    build = subprocess.run(
        [sys.executable, "-m", *pip_wheel, str(PROJECT)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert build.returncode == 0, build.stdout + build.stderr
    (wheel,) = wheels.glob("licensing_client-*-py3-none-any.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "licensing_client/py.typed" in names and "licensing_client/__main__.py" in names
    metadata = zipfile.ZipFile(wheel).read("licensing_client-0.1.0.dist-info/METADATA").decode()
    assert "Requires-Dist: cryptography>=41.0" in metadata and "Requires-Dist: requests>=2.31" in metadata

    # Its dependencies come from the interpreter's own site-packages: no network.
    env_dir = tmp_path / "venv"
    venv.EnvBuilder(system_site_packages=True, with_pip=True).create(env_dir)
    python = env_dir / "bin" / "python"
    install = subprocess.run(
        [str(python), "-m", "pip", "install", "--no-index", "--no-deps", "--quiet", str(wheel)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert install.returncode == 0, install.stdout + install.stderr
    where = subprocess.run(
        [str(python), "-c", "import licensing_client; print(licensing_client.__file__)"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert where.returncode == 0, where.stderr
    assert Path(where.stdout.strip()).is_relative_to(env_dir)
    helped = subprocess.run(
        [str(python), "-m", "licensing_client", "--help"], capture_output=True, text=True, cwd=tmp_path
    )
    assert helped.returncode == 0, helped.stderr
    for command in ("activate", "check", "deactivate", "offline-request", "verify-file"):
        assert command in helped.stdout
    script = subprocess.run([str(env_dir / "bin" / "licensing-client"), "--version"], capture_output=True, text=True)
    assert script.stdout.strip() == "licensing-client 0.1.0"
