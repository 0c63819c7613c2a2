"""A stable id for this machine, salted with the product code.

Sources, in order (the first that gives a value wins):

1. Linux: ``/etc/machine-id``, then ``/var/lib/dbus/machine-id``;
2. macOS: ``IOPlatformUUID`` from ``ioreg -rd1 -c IOPlatformExpertDevice``;
3. Windows: ``MachineGuid`` under ``HKLM\\SOFTWARE\\Microsoft\\Cryptography``;
4. fallback everywhere: the MAC address from :func:`uuid.getnode` (unless Python had to
   make one up at random, which it marks with the multicast bit), then the host name.

The id is ``sha256(product + ":" + source value)`` in hex: the raw machine id never leaves
the machine, and two products get unrelated ids for one machine.
"""

from __future__ import annotations

import hashlib
import platform
import re
import shutil
import socket
import subprocess
import sys
import uuid
from pathlib import Path

LINUX_FILES = (Path("/etc/machine-id"), Path("/var/lib/dbus/machine-id"))


def _read_file(path: Path) -> str | None:
    try:
        value = path.read_text().strip()
    except OSError:
        return None
    return value or None


def _macos() -> str | None:
    ioreg = shutil.which("ioreg") or "/usr/sbin/ioreg"
    try:
        out = subprocess.run(  # noqa: S603 - a fixed command, no shell
            [ioreg, "-rd1", "-c", "IOPlatformExpertDevice"], capture_output=True, text=True, timeout=5, check=False
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    match = re.search(r'"IOPlatformUUID"\s*=\s*"([^"]+)"', out)
    return match.group(1) if match else None


def _windows() -> str | None:
    try:
        import winreg  # type: ignore[import-not-found,unused-ignore]
    except ImportError:
        return None
    try:
        flags = winreg.KEY_READ | getattr(winreg, "KEY_WOW64_64KEY", 0)
        with winreg.OpenKey(winreg.HKEY_LOCAL_MACHINE, r"SOFTWARE\Microsoft\Cryptography", 0, flags) as key:
            value, _ = winreg.QueryValueEx(key, "MachineGuid")
    except OSError:
        return None
    return str(value) or None


def _mac_address() -> str | None:
    node = uuid.getnode()
    if node >> 40 & 1:  # the multicast bit: a random number, different at every run
        return None
    return f"{node:012x}"


def machine_id() -> tuple[str, str]:
    """The raw machine id and where it came from (``machine-id``, ``ioreg``, ``registry``,
    ``mac`` or ``hostname``). Not salted: do not send it anywhere; use :func:`hardware_id`."""
    if sys.platform.startswith("linux"):
        for path in LINUX_FILES:
            if value := _read_file(path):
                return value, "machine-id"
    elif sys.platform == "darwin":
        if value := _macos():
            return value, "ioreg"
    elif sys.platform == "win32" and (value := _windows()):
        return value, "registry"
    if value := _mac_address():
        return value, "mac"
    return socket.gethostname() or platform.node(), "hostname"


def hardware_id(product: str) -> str:
    """This machine's ``hardware_id`` for ``product``: stable across runs and reboots."""
    value, _source = machine_id()
    return hashlib.sha256(f"{product}:{value}".encode()).hexdigest()
