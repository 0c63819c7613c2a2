"""One application on a floating license, for test_floating.py: takes a slot in a
FloatingSession (waiting for one if all are running), says so on stdout, and holds it,
checking in, until it reads `exit` on stdin (then releases) or is killed (then does not).

usage: python floating_worker.py CONFIG_JSON HARDWARE_ID HEARTBEAT_SECONDS"""

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "clients" / "python" / "src"))

from licensing_client import FloatingSession, LicenseClient


def main() -> None:
    config = json.loads(Path(sys.argv[1]).read_text())
    hardware_id, heartbeat = sys.argv[2], float(sys.argv[3])
    client = LicenseClient(
        config["base"],
        config["api_key"],
        config["shared_key"],
        config["public_key_pem"],
        config["product"],
        cache_dir=Path(config["cache"]) / hardware_id,
        hardware_id=hardware_id,
        license_key=config["license_key"],
    )
    print("started", flush=True)
    with FloatingSession(client, wait=True, poll=0.5, max_wait=60, interval=heartbeat) as session:
        print("holding", session.license["floating_until"], flush=True)
        for line in sys.stdin:
            if line.strip() == "exit":
                break
            print("check-ins", session.check_ins, "lost", session.lost.is_set(), flush=True)
    print("released", flush=True)


if __name__ == "__main__":
    main()
