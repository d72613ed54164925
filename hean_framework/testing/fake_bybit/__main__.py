"""``python -m hean_framework.testing.fake_bybit [--port N] [--rate R]``: run the fake Bybit
on 127.0.0.1 until interrupted, printing its URLs (for trying ``hean run`` by hand)."""

from __future__ import annotations

import argparse
import time

from .script import default_script
from .server import API_KEY, API_SECRET, FakeBybit


def main() -> None:
    """Run the fake until Ctrl-C."""
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--rate", type=float, default=50.0, help="market events per second")
    args = ap.parse_args()
    fake = FakeBybit(script=default_script(), port=args.port).start()
    print(f"fake Bybit: rest {fake.rest_url}  ws {fake.ws_url}", flush=True)
    print(f"  HEAN_API_KEY={API_KEY} HEAN_API_SECRET={API_SECRET}", flush=True)
    fake.step(1)
    fake.play(args.rate)
    try:
        while True:
            time.sleep(1)
    except KeyboardInterrupt:
        fake.stop()


if __name__ == "__main__":
    main()
