"""The ``nexusdata`` command line: ``demo``, ``sim`` and ``--version``."""

from __future__ import annotations

import argparse
import logging
import sys
import threading
from typing import Sequence

from . import __version__
from .errors import NexusDataError

EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


def _demo(args: argparse.Namespace) -> int:
    from .demo import run_demo

    run_demo(args.out, seconds=args.seconds, seed=args.seed)
    return EXIT_OK


def _sim(args: argparse.Namespace) -> int:
    from .sim import Simulator

    sim = Simulator(host=args.host, port=args.port, seed=args.seed, rate=args.rate, token=args.token,
                    api_key=args.api_key, api_secret=args.api_secret)
    with sim:
        print(f"Nexus    url: {sim.nexus_url}\n         token: {sim.token}")
        print(f"ChaiNext url: {sim.chainext_url}\n         api_key: {sim.api_key}\n         api_secret: {sim.api_secret}")
        print("export for nexusdata:")
        print(f"  export NEXUSDATA_NEXUS_URL={sim.nexus_url} NEXUSDATA_NEXUS_TOKEN={sim.token}")
        print(f"  export NEXUSDATA_CHAINEXT_URL={sim.chainext_url} NEXUSDATA_CHAINEXT_API_KEY={sim.api_key}"
              f" NEXUSDATA_CHAINEXT_API_SECRET={sim.api_secret}")
        print("serving; Ctrl-C to stop", flush=True)
        try:
            threading.Event().wait(args.seconds)
        except KeyboardInterrupt:
            pass
    return EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="nexusdata",
        description="Live Nexus and ChaiNext data into pandas, with an embedded simulator.",
        epilog="examples:\n  nexusdata demo\n  nexusdata sim --port 8765",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"nexusdata {__version__}")
    parser.add_argument("--log-level", default="WARNING", choices=["DEBUG", "INFO", "WARNING", "ERROR"],
                        help="logging level (default WARNING); secrets are never logged")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    demo = sub.add_parser("demo", help="collect from the embedded simulator, write Parquet and PNG charts",
                          epilog="example:\n  nexusdata demo --out /tmp/demo --seconds 5",
                          formatter_class=argparse.RawDescriptionHelpFormatter)
    demo.add_argument("--out", default="nexusdata-demo", help="output folder (default ./nexusdata-demo)")
    demo.add_argument("--seconds", type=float, default=3.0, help="seconds per collector (default 3)")
    demo.add_argument("--seed", type=int, default=0, help="simulator seed (default 0)")
    demo.set_defaults(run=_demo)

    sim = sub.add_parser("sim", help="run the embedded simulator and print its URLs and credentials",
                         epilog="example:\n  nexusdata sim --port 8765 --rate 50",
                         formatter_class=argparse.RawDescriptionHelpFormatter)
    sim.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    sim.add_argument("--port", type=int, default=0, help="port (default: any free port)")
    sim.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    sim.add_argument("--rate", type=float, default=10.0, help="pushes per second per subscription (default 10)")
    sim.add_argument("--seconds", type=float, default=None, help="stop after this long (default: until Ctrl-C)")
    sim.add_argument("--token", help="Nexus token to accept (default: random)")
    sim.add_argument("--api-key", help="ChaiNext API key to accept (default: random)")
    sim.add_argument("--api-secret", help="ChaiNext API secret (default: random)")
    sim.set_defaults(run=_sim)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``nexusdata`` console script; returns the exit status."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=args.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        return args.run(args)
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    except (NexusDataError, ValueError) as exc:
        print(f"nexusdata: error: {exc}", file=sys.stderr)
        return EXIT_USAGE if isinstance(exc, ValueError) else EXIT_ERROR


if __name__ == "__main__":
    sys.exit(main())
