"""python -m licensing_client: activate, check and deactivate this machine, and make or
read the files of offline activation, from a shell."""

from __future__ import annotations

import argparse
import getpass
import json
import os
import sys
from pathlib import Path
from typing import Any

from . import __version__
from .client import LicenseClient
from .errors import LicenseError
from .hardware import hardware_id


def _parser() -> argparse.ArgumentParser:
    env = os.environ.get
    parser = argparse.ArgumentParser(
        prog="python -m licensing_client",
        description="A client of the licensing server's client API. Every answer is verified with the public key.",
        epilog="Each connection option may come from the environment variable shown instead.",
    )
    parser.add_argument("--version", action="version", version=f"licensing-client {__version__}")
    parser.add_argument("--url", default=env("LICENSING_URL", ""), help="the server, e.g. https://lic.example.com")
    parser.add_argument("--api-key", default=env("LICENSING_API_KEY", ""), help="the client credential's API key")
    parser.add_argument("--shared-key", default=env("LICENSING_SHARED_KEY", ""), help="its shared key")
    parser.add_argument(
        "--public-key", default=env("LICENSING_PUBLIC_KEY", ""), help="a file with the server's public key (PEM)"
    )
    parser.add_argument("--product", default=env("LICENSING_PRODUCT", ""), help="the product's short code")
    parser.add_argument("--cache-dir", default=env("LICENSING_CACHE_DIR"), help="where the verified license is kept")
    parser.add_argument("--hardware-id", default=env("LICENSING_HARDWARE_ID"), help="override this machine's id")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    activate = commands.add_parser("activate", help="activate this machine")
    _identity(activate)
    commands.add_parser("check", help="check the license in (offline: the cached lease)")
    commands.add_parser("deactivate", help="give this machine's seat back")
    request = commands.add_parser("offline-request", help="write an offline activation or deactivation request file")
    _identity(request)
    request.add_argument("--deactivation", action="store_true", help="a deactivation request")
    request.add_argument("-o", "--output", help="the file to write (default: standard output)")
    verify_file = commands.add_parser("verify-file", help="verify a license file and keep it as the license")
    verify_file.add_argument("file", help="the license file the server answered")
    verify_file.add_argument("--no-save", action="store_true", help="only verify; do not keep it")
    commands.add_parser("hardware-id", help="print this machine's hardware_id for the product")
    return parser


def _identity(parser: argparse.ArgumentParser) -> None:
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--license-key", help="the activation code")
    group.add_argument("--username", help="the license user (user-based products)")
    parser.add_argument("--password", help="the user's password (asked for when omitted)")


def _client(args: argparse.Namespace, *, online: bool = True, signing: bool = True) -> LicenseClient:
    missing = [
        name
        for name, value, needed in (
            ("--product", args.product, True),
            ("--public-key", args.public_key, True),
            ("--url", args.url, online),
            ("--api-key", args.api_key, signing),
            ("--shared-key", args.shared_key, signing),
        )
        if needed and not value
    ]
    if missing:
        raise SystemExit(f"error: missing {', '.join(missing)}")
    return LicenseClient(
        args.url or "http://invalid",
        args.api_key,
        args.shared_key,
        Path(args.public_key).read_bytes(),
        args.product,
        cache_dir=args.cache_dir,
        hardware_id=args.hardware_id,
    )


def _password(args: argparse.Namespace) -> str | None:
    if args.username and args.password is None:
        return getpass.getpass(f"Password for {args.username}: ")
    return args.password


def _print(data: Any) -> None:
    print(json.dumps(data, indent=2, sort_keys=True, default=str))


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "hardware-id":
            if not args.product:
                raise SystemExit("error: missing --product")
            print(args.hardware_id or hardware_id(args.product))
        elif args.command == "activate":
            if not (args.license_key or args.username):
                raise SystemExit("error: give --license-key or --username")
            client = _client(args)
            _print(client.activate(args.license_key, username=args.username, password=_password(args)).data)
        elif args.command == "check":
            license = _client(args).check()
            _print({**license.data, "from_cache": license.from_cache})
        elif args.command == "deactivate":
            _client(args).deactivate()
            print("license_deactivated")
        elif args.command == "offline-request":
            client = _client(args, online=False)
            text = client.offline_request(
                "deactivation" if args.deactivation else "activation",
                args.license_key,
                username=args.username,
                password=_password(args),
            )
            if args.output:
                # Owner-only: a user-based request carries the password.
                descriptor = os.open(args.output, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
                with os.fdopen(descriptor, "w") as output:
                    output.write(text + "\n")
            else:
                print(text)
        elif args.command == "verify-file":
            client = _client(args, online=False, signing=False)
            _print(client.verify_license_file(Path(args.file).read_text(), save=not args.no_save).data)
    except LicenseError as error:
        reason = f" ({error.reason})" if error.reason else ""
        print(f"error: {error.code}{reason}: {error.message or error}", file=sys.stderr)
        return 1
    except (OSError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0
