"""The ``nexusdata`` command line: ``demo``, ``sim``, ``check``, ``record``, ``read``, ``compact`` and ``--version``.

Exit statuses (also in docs/cli.md): 0 done; 1 runtime or server error; 2 bad arguments;
3 credentials refused; 130 interrupted (Ctrl-C or SIGTERM; a recording is saved first).
"""

from __future__ import annotations

import argparse
import logging
import math
import os
import shlex
import signal
import sys
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from . import __version__
from .config import ENV
from .errors import ArgumentError, AuthenticationError, NexusDataError
from .kinds import ORDER_VIEWS, checkable, with_rows
from .protocol import SERVICES, chainext
from .sim import QUIRKS

if TYPE_CHECKING:
    from .sim import Simulator

EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_CREDENTIALS, EXIT_INTERRUPTED = 0, 1, 2, 3, 130
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
EXIT_STATUSES = (
    "exit status: 0 done, 1 runtime or server error, 2 bad arguments, 3 credentials refused,\n130 interrupted (Ctrl-C or SIGTERM)"
)
CONNECTION_FLAGS = ("url", "token", "api_key", "api_secret", "ca_file", "proxy")
"""The connection flags of ``check`` and ``record`` (as argparse names them)."""
MAX_PORT = 65535


def _demo(args: argparse.Namespace) -> int:
    from .demo import run_demo

    run_demo(args.out, seconds=args.seconds, seed=args.seed)
    return EXIT_OK


def _sim(args: argparse.Namespace) -> int:
    """Serve until Ctrl-C, SIGTERM (both: status 130) or ``--seconds`` (status 0)."""
    from .sim import Simulator  # the server is loaded only by the commands that run one

    served = {"symbols": args.symbols} if args.symbols else {}
    sim = Simulator(
        host=args.host,
        port=_port(args.port),
        seed=args.seed,
        rate=args.rate,
        token=args.token,
        api_key=args.api_key,
        api_secret=args.api_secret,
        replay=args.replay,
        speed=args.speed,
        quirks=args.quirks,
        trace=args.replay_trace,
        **served,
    )
    with _sigterm_interrupts(), sim:
        print(f"Nexus    url: {sim.nexus_url}\n         token: {sim.token}")
        print(f"ChaiNext url: {sim.chainext_url}\n         api_key: {sim.api_key}\n         api_secret: {sim.api_secret}")
        if sim.playback is not None:
            held = "; ".join(f"{feed}: {', '.join(sorted(keys))}" for feed, keys in sim.playback.catalogue.items())
            print(f"replaying {args.replay} at {args.speed:g}x ({held})")
        if sim.trace is not None:
            print(f"serving the trace {args.replay_trace} ({', '.join(sim.trace.scripts)}) at {args.speed:g}x")
        exports = _exports(sim)
        print("export for nexusdata:\n" + "".join(f"  {line}\n" for line in exports), end="")
        with _env_file(args.env_file, exports):
            print("serving; Ctrl-C to stop", flush=True)
            threading.Event().wait(args.seconds)
    return EXIT_OK


def _port(port: int) -> int:
    """``port`` if a server can listen on it (0: any free port), else an :class:`ArgumentError`."""
    if not 0 <= port <= MAX_PORT:
        raise ArgumentError(f"--port must be from 0 to {MAX_PORT} (0: any free port), got {port}")
    return port


def _exports(sim: Simulator) -> list[str]:
    """The shell lines that point the ``NEXUSDATA_*`` variables at ``sim``, one per feed."""
    return [_export(ENV[service], _sim_conn(sim, service)) for service in SERVICES]


def _export(variables: Mapping[str, str], values: Mapping[str, str]) -> str:
    """One ``export`` line: each value under its variable's name, quoted for the shell."""
    return "export " + " ".join(f"{variables[key]}={shlex.quote(value)}" for key, value in values.items())


@contextmanager
def _env_file(path: str | None, lines: list[str]) -> Iterator[None]:
    """Meanwhile ``path`` holds ``lines``: written at once whole (a private temporary file renamed
    over it) and removed on the way out, so it exists exactly while the simulator it names serves."""
    if path is None:
        yield
        return
    target = Path(path)
    temporary = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    with os.fdopen(os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as file:
        file.write("".join(f"{line}\n" for line in lines))
    os.replace(temporary, target)
    try:
        yield
    finally:
        target.unlink(missing_ok=True)


def _check(args: argparse.Namespace) -> int:
    """Print the transcript; 0 when every step passed, 3 for refused credentials, else 1."""
    from .contact import check, format_transcript

    conn = _connection(args, args.service)
    if args.quirks is not None and not args.sim:
        raise ArgumentError("--quirks shapes the embedded simulator: give --sim too")
    target = {name: getattr(args, name) for name in ("symbol", "depth", "topic", "id") if hasattr(args, name)}
    with ExitStack() as stack:
        if args.sim:
            from .sim import Simulator

            conn = _sim_conn(stack.enter_context(Simulator(quirks=args.quirks)), args.service)
        stack.enter_context(_sigterm_interrupts())
        frame = check(args.service, seconds=args.seconds, pushes=args.pushes, trace=args.trace, **target, **conn)
    print(format_transcript(frame))
    outcome = frame.attrs["nexusdata"]
    if outcome["passed"]:
        return EXIT_OK
    return EXIT_CREDENTIALS if outcome["error"] == AuthenticationError.__name__ else EXIT_ERROR


def _connection(args: argparse.Namespace, service: str) -> dict[str, Any]:
    """The connection flags given, checked: none with ``--sim``, and only ``service``'s own
    credentials (the environment fills in the others)."""
    given = {k: v for k in CONNECTION_FLAGS if (v := getattr(args, k, None)) is not None}
    if args.sim and given:
        raise ArgumentError(f"--sim connects to the embedded simulator; drop {_flags(given)}")
    foreign = [k for k in given if k not in ("ca_file", "proxy") and k not in ENV[service]]
    if foreign:
        raise ArgumentError(f"{_flags(foreign)}: not {service} credentials; {service} takes {_flags(ENV[service])}")
    return given


class _Former(argparse.Action):
    """A flag under its former name: works, with a deprecation note on standard error."""

    def __call__(
        self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, values: Any, option: str | None = None
    ) -> None:
        print(f"nexusdata: {option} is deprecated: use --{self.dest}", file=sys.stderr)
        setattr(namespace, self.dest, values)


def _kind_flag(parser: argparse.ArgumentParser, help: str) -> None:
    """``--kind`` (a subscription kind), and ``--feed``, its former name."""
    parser.add_argument("--kind", help=help)
    parser.add_argument("--feed", dest="kind", action=_Former, help=argparse.SUPPRESS)


def _flags(names: Any) -> str:
    """Keyword names as the flags that give them: ``--api-key, --api-secret``."""
    return ", ".join(f"--{name.replace('_', '-')}" for name in names)


def _sim_conn(sim: Simulator, service: str) -> dict[str, Any]:
    """The simulator's URL and credentials for ``service`` (``sim.nexus``, ``sim.chainext``)."""
    conn: dict[str, Any] = getattr(sim, service)
    return conn


def _record(args: argparse.Namespace) -> int:
    """Record; 130 when interrupted, 1 when the server refused some subscriptions (the others
    were recorded)."""
    from .recording.writer import check_shard, record, select_shard

    feed, keys = _what_to_record(args)
    rows = args.rows if feed == "orders" else None
    kind = with_rows(feed, rows)
    subscriptions = kind.subscriptions(keys, args.depth)  # checked before anything starts
    if args.shard is not None:
        chosen = select_shard(kind, subscriptions, args.shard)
        index, count = check_shard(args.shard)
        print(f"nexusdata: shard {index}/{count} records {kind.labels(chosen)}", file=sys.stderr, flush=True)
    service = kind.service
    conn = _connection(args, service)
    with ExitStack() as stack:
        if args.sim:
            from .sim import Simulator

            conn = _sim_conn(stack.enter_context(Simulator(seed=args.sim_seed, rate=args.sim_rate)), service)
        stack.enter_context(_sigterm_interrupts())
        summary = record(
            args.out,
            feed,
            *keys,
            seconds=args.seconds,
            depth=args.depth,
            rows=rows,
            max_messages=args.max_messages,
            flush_seconds=args.flush_seconds,
            flush_rows=args.flush_rows,
            progress=args.progress,
            shard=args.shard,
            **conn,
        )
    print(summary)
    if summary.interrupted:
        return EXIT_INTERRUPTED
    if summary.refused:
        print(f"nexusdata: error: the server refused {len(summary.refused)} subscription(s); the others were recorded",
              file=sys.stderr)  # fmt: skip
        return EXIT_ERROR
    return EXIT_OK


def _what_to_record(args: argparse.Namespace) -> tuple[str, list[Any]]:
    """The feed and keys of ``nd.record`` for a ``record`` subcommand."""
    if args.what == "depth":
        return "depth", args.symbols
    if args.what == "orders":
        return "orders", []
    if args.what == "risk":
        if len(args.pairs) % 2:
            raise ArgumentError(f"risk takes SYMBOL BOOK pairs, got {len(args.pairs)} word(s): {' '.join(args.pairs)}")
        return "risk", list(zip(args.pairs[::2], args.pairs[1::2]))
    return args.topic, args.ids


@contextmanager
def _sigterm_interrupts() -> Iterator[None]:
    """SIGTERM (``kill``, service managers) interrupts like Ctrl-C meanwhile, so that a stopped
    recorder writes what it holds before it exits."""

    def interrupt(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _read(args: argparse.Namespace) -> int:
    from .recording.reader import read_recording, summary

    if args.kind is None and args.csv is None and not any((args.rows, args.symbol, args.id, args.start, args.end)):
        table = summary(args.path)
        if table.empty:
            raise ArgumentError(f"DIR must be a recording; nothing recorded under {args.path!r}")
        with pd.option_context("display.width", 200, "display.max_columns", 20):
            print(table.to_string(index=False))
        return EXIT_OK
    frame = read_recording(args.path, args.kind, rows=args.rows, symbol=args.symbol, id=args.id, start=args.start, end=args.end)
    if frame.empty:
        raise NexusDataError(
            f"no rows match {_filters(args)}; the recording holds {_holdings(args.path, args.rows or args.kind)}"
        )
    if args.csv is not None:
        frame.to_csv(sys.stdout if args.csv == "-" else args.csv, index=False)
        if args.csv != "-":
            print(f"wrote {len(frame)} rows to {args.csv}", file=sys.stderr)
        return EXIT_OK
    pushes = frame["received_at"].nunique()
    span = f" from {frame['received_at'].min()} to {frame['received_at'].max()}" if len(frame) else ""
    print(
        f"{len(frame)} rows x {frame.shape[1]} columns, {pushes} pushes{span},"
        f" connections {sorted(set(frame['connection'].tolist()))}"
    )
    print("columns: " + ", ".join(f"{c}:{t}" for c, t in frame.dtypes.astype(str).items()))
    with pd.option_context("display.width", 200, "display.max_columns", 20):
        print(frame.head(10).to_string(max_colwidth=24))
    return EXIT_OK


def _compact(args: argparse.Namespace) -> int:
    """Compact; 0 also when partitions still being written were skipped (the summary lists them)."""
    from .recording.compaction import compact

    if not 2**-20 <= args.target_size < math.inf:
        raise ArgumentError(f"--target-size must be a positive number of MiB, got {args.target_size:g}")
    summary = compact(args.path, kind=args.kind, before=args.before, target_size=round(args.target_size * 2**20), idle=args.idle)
    print(summary)
    return EXIT_OK


def _filters(args: argparse.Namespace) -> str:
    """The selection flags of a ``read`` as given."""
    given = {"kind": args.kind, "rows": args.rows, "symbol": args.symbol, "id": args.id, "start": args.start, "end": args.end}
    return " ".join(
        f"--{flag} {' '.join(map(shlex.quote, v)) if isinstance(v, list) else shlex.quote(v)}"
        for flag, v in given.items()
        if v is not None
    )


def _holdings(path: str, kind: str | None) -> str:
    """What a recording holds (of ``kind``, if given): each symbol or id with its rows and times."""
    from .recording.reader import summary

    table = summary(path)
    if kind is not None:
        table = table[table["feed"] == kind]
    return "; ".join(f"{r.feed} {r.key}: {r.rows} rows from {r.first} to {r.last}" for r in table.itertuples()) or "nothing of it"


def _subparser(sub: Any, name: str, help: str, examples: str, common: argparse.ArgumentParser) -> argparse.ArgumentParser:
    return sub.add_parser(
        name,
        help=help,
        description=help[0].upper() + help[1:] + ".",
        parents=[common],
        epilog=f"examples:\n{examples}\n\n{EXIT_STATUSES}",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )


def _connection_flags(parser: argparse.ArgumentParser) -> Any:
    """The connection flags ``record`` and ``check`` share, in a group of ``parser`` (returned)."""
    where = parser.add_argument_group("connection (default: the NEXUSDATA_* environment variables)")
    where.add_argument("--url", help="endpoint URL (NEXUSDATA_NEXUS_URL / NEXUSDATA_CHAINEXT_URL)")
    where.add_argument("--token", help="Nexus token (NEXUSDATA_NEXUS_TOKEN; the variable keeps it out of `ps`)")
    where.add_argument("--api-key", help="ChaiNext API key (NEXUSDATA_CHAINEXT_API_KEY)")
    where.add_argument("--api-secret", help="ChaiNext API secret (NEXUSDATA_CHAINEXT_API_SECRET; prefer the variable)")
    where.add_argument("--ca-file", metavar="PEM", help="CA bundle to verify a wss:// server with (private CA, self-signed)")
    where.add_argument(
        "--proxy",
        metavar="URL",
        help="HTTP or SOCKS proxy: http://[USER:PASSWORD@]HOST:PORT, socks5://, socks5h://, socks4://; '' for none"
        " (default: HTTPS_PROXY, HTTP_PROXY or ALL_PROXY unless NO_PROXY lists the host; the variable keeps a password out of `ps`)",
    )
    return where


def _check_parser(sub: Any, common: argparse.ArgumentParser) -> None:
    """``check nexus`` and ``check chainext``, which share the run and connection options."""
    options = argparse.ArgumentParser(add_help=False, parents=[common])
    run = options.add_argument_group("check")
    run.add_argument(
        "--seconds", type=float, default=10.0, metavar="S", help="wait at most S seconds for the pushes (default 10)"
    )
    run.add_argument("--pushes", type=int, default=5, metavar="N", help="stop after N pushes (default 5)")
    run.add_argument(
        "--trace",
        metavar="FILE",
        help="write every frame and event, secrets redacted, as JSON lines"
        " (serve it back with `nexusdata sim --replay-trace FILE`)",
    )
    where = _connection_flags(options)
    where.add_argument("--sim", action="store_true", help="check an embedded simulator instead")
    where.add_argument("--quirks", metavar="Q[,Q...]", help=f"with --sim: the simulator's quirks ({', '.join(QUIRKS)})")

    check = _subparser(
        sub,
        "check",
        "connect once, subscribe, wait for a few pushes and explain every step",
        "  nexusdata check nexus --url wss://uat.smartcrypto.cc:444 --symbol BTCUSDT\n"
        "  nexusdata check chainext --topic pair_index_v3 --id 1 --trace chainext.jsonl\n"
        "  nexusdata check nexus --sim --quirks batched,pretty\n"
        "credentials as for `record`; the status is 0 only when every step passed",
        common,
    )
    services = check.add_subparsers(dest="service", required=True, metavar="SERVICE")
    for service in SERVICES.values():
        choices = checkable(service.name)
        keys = {kind.key for kind in choices}
        what = " or ".join(kind.name for kind in choices) if len(choices) < 3 else "one topic"
        parser = _subparser(
            services,
            service.name,
            f"check a {service.title} endpoint: {'log in, then ' if service.logs_in else ''}subscribe to {what}",
            f"  nexusdata check {service.name} --url {service.example_url}\n  nexusdata check {service.name} --sim",
            options,
        )
        if "symbol" in keys:
            parser.add_argument("--symbol", default="BTCUSDT", help="symbol to subscribe to (default BTCUSDT)")
            parser.add_argument("--depth", type=int, default=5, help="levels per side (default 5)")
        if len(choices) > 1:
            names = [kind.name for kind in choices]
            parser.add_argument(
                "--topic", choices=names, default=names[0], metavar="TOPIC", help=f"{', '.join(names)} (default {names[0]})"
            )
        if "id" in keys:
            parser.add_argument("--id", default="1", help="coin or index id (default 1)")
    check.set_defaults(run=_check)


def _record_parser(sub: Any, common: argparse.ArgumentParser) -> None:
    """``record`` and its four subcommands, which share the output, run and connection options."""
    options = argparse.ArgumentParser(add_help=False, parents=[common])
    run = options.add_argument_group("recording")
    run.add_argument("--out", required=True, metavar="DIR", help="dataset directory (created; may already hold recordings)")
    run.add_argument("--seconds", type=float, help="stop after this long (default: until Ctrl-C or SIGTERM)")
    run.add_argument("--max-messages", type=int, metavar="N", help="stop after N pushes")
    run.add_argument(
        "--flush-seconds", type=float, default=5.0, metavar="T", help="write a file per partition every T seconds (default 5)"
    )
    run.add_argument(
        "--flush-rows", type=int, default=100_000, metavar="N", help="... or as soon as N rows are held (default 100000)"
    )
    run.add_argument(
        "--no-progress",
        dest="progress",
        action="store_false",
        help="no progress line (shown with rates when stderr is a terminal)",
    )
    run.add_argument(
        "--shard",
        metavar="I/N",
        help="record only the symbols or ids that fall to recorder I (0 to N-1) of N given the same ones",
    )
    where = _connection_flags(options)
    where.add_argument("--sim", action="store_true", help="record from an embedded simulator instead")
    where.add_argument(
        "--sim-rate", type=float, default=10.0, metavar="R", help="simulator pushes per second per subscription (default 10)"
    )
    where.add_argument("--sim-seed", type=int, default=0, metavar="S", help="simulator seed (default 0)")

    record = _subparser(
        sub,
        "record",
        "record a feed into a Hive-partitioned Parquet dataset",
        "  nexusdata record depth BTCUSDT ETHUSDT --seconds 3600 --out rec\n"
        "  nexusdata record orders --rows executions --out rec\n"
        "  nexusdata record risk BTCUSDT A ETHUSDT B --out rec\n"
        "  nexusdata record index pair_index_v3 1 0 --out rec\n"
        "  nexusdata record depth BTCUSDT --sim --seconds 60 --out /tmp/rec\n"
        "  nexusdata record depth BTCUSDT ETHUSDT SOLUSDT XRPUSDT --shard 0/2 --out /shared/rec   # and 1/2 elsewhere\n"
        "read it with `nexusdata read DIR` or nd.read_recording(DIR, feed=...)",
        common,
    )
    kinds = record.add_subparsers(dest="what", required=True, metavar="FEED")
    record.set_defaults(depth=5)
    depth = _subparser(
        kinds,
        "depth",
        "record order-book depth of one or more symbols",
        "  nexusdata record depth BTCUSDT --seconds 3600 --out rec\n"
        "  nexusdata record depth BTCUSDT ETHUSDT --depth 10 --sim --out /tmp/rec",
        options,
    )
    depth.add_argument("symbols", nargs="+", metavar="SYMBOL")
    depth.add_argument("--depth", type=int, default=5, help="levels per side (default 5)")
    orders = _subparser(
        kinds,
        "orders",
        "record the account's order results",
        "  nexusdata record orders --out rec\n  nexusdata record orders --rows executions --sim --seconds 60 --out /tmp/rec",
        options,
    )
    orders.add_argument(
        "--rows", choices=ORDER_VIEWS, default="orders", help="one row per parent order (default), child order or execution"
    )
    risk = _subparser(
        kinds,
        "risk",
        "record risk positions of one or more (symbol, book) pairs",
        "  nexusdata record risk BTCUSDT A --out rec\n  nexusdata record risk BTCUSDT A ETHUSDT B --sim --out /tmp/rec",
        options,
    )
    risk.add_argument("pairs", nargs="+", metavar="SYMBOL BOOK")
    index = _subparser(
        kinds,
        "index",
        "record a ChaiNext topic for one or more coin or index ids",
        "  nexusdata record index pair_index_v3 1 --out rec\n  nexusdata record index coin_index 0 1 18 --sim --out /tmp/rec",
        options,
    )
    index.add_argument("topic", choices=list(chainext.TOPICS), metavar="TOPIC", help=", ".join(chainext.TOPICS))
    index.add_argument("ids", nargs="+", metavar="ID")
    record.set_defaults(run=_record)


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--log-level",
        default=argparse.SUPPRESS,
        choices=LOG_LEVELS,
        help="logging level (default WARNING); secrets are never logged",
    )
    parser = argparse.ArgumentParser(
        prog="nexusdata",
        description="Live Nexus and ChaiNext data into pandas, with an embedded simulator.",
        epilog="examples:\n  nexusdata demo\n  nexusdata sim --port 8765\n  nexusdata check nexus --url wss://uat.smartcrypto.cc:444\n"
        "  nexusdata record depth BTCUSDT --seconds 3600 --out rec\n  nexusdata read rec\n"
        "  nexusdata sim --replay rec --speed 10\n  nexusdata compact rec\n"
        f"run `nexusdata COMMAND --help` for a command's options\n\n{EXIT_STATUSES}",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"nexusdata {__version__}")
    parser.add_argument(
        "--log-level", default="WARNING", choices=LOG_LEVELS, help="logging level (default WARNING); secrets are never logged"
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    demo = _subparser(
        sub,
        "demo",
        "collect from the embedded simulator, write Parquet and PNG charts",
        "  nexusdata demo\n  nexusdata demo --out /tmp/demo --seconds 5",
        common,
    )
    demo.add_argument("--out", default="nexusdata-demo", help="output folder (default ./nexusdata-demo)")
    demo.add_argument("--seconds", type=float, default=3.0, help="seconds per collector (default 3)")
    demo.add_argument("--seed", type=int, default=0, help="simulator seed (default 0)")
    demo.set_defaults(run=_demo)

    sim = _subparser(
        sub,
        "sim",
        "run the embedded simulator (or replay a recording) and print its URLs and credentials",
        "  nexusdata sim --port 8765 --rate 50\n  nexusdata sim --replay rec --speed 10\n"
        "  nexusdata sim --env-file sim.env &      # in a script: serve in the background, then\n"
        "  for i in $(seq 100); do [ -f sim.env ] && break; sleep 0.1; done; . sim.env\n"
        "  nexusdata sim --quirks batched,pretty --symbols BTCUSDT ETHUSDT\n"
        "  nexusdata sim --replay-trace chainext.jsonl      # a trace of `nexusdata check --trace`",
        common,
    )
    sim.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    sim.add_argument("--port", type=int, default=0, help="port (default: any free port)")
    sim.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    sim.add_argument("--rate", type=float, default=10.0, help="pushes per second per subscription (default 10)")
    sim.add_argument("--seconds", type=float, default=None, help="stop after this long (default: until Ctrl-C)")
    sim.add_argument("--token", help="Nexus token to accept (default: random)")
    sim.add_argument("--api-key", help="ChaiNext API key to accept (default: random)")
    sim.add_argument("--api-secret", help="ChaiNext API secret (default: random)")
    sim.add_argument("--replay", metavar="DIR", help="serve this recording instead of simulated data")
    sim.add_argument("--replay-trace", metavar="FILE", help="serve this trace (`nexusdata check --trace FILE`) instead")
    sim.add_argument("--speed", type=float, default=1.0, help="replay speed, a multiple of real time (default 1; inf: no pauses)")
    sim.add_argument("--quirks", metavar="Q[,Q...]", help=f"differ from the documents where they are silent: {', '.join(QUIRKS)}")
    sim.add_argument(
        "--symbols", nargs="+", metavar="S", help="Nexus symbols served (default: the built-in ones); others are refused"
    )
    sim.add_argument("--env-file", metavar="FILE", help="write the export lines to FILE once listening; removed on stop")
    sim.set_defaults(run=_sim)

    _check_parser(sub, common)
    _record_parser(sub, common)

    read = _subparser(
        sub,
        "read",
        "summarise a recording, or print or export (CSV) one feed of it",
        "  nexusdata read rec                                   # what the recording holds\n"
        "  nexusdata read rec --kind depth --symbol BTCUSDT     # a glimpse of the rows\n"
        "  nexusdata read rec --kind pair_index_v3 --id 1 --start '2026-11-22 10:00' --end '2026-11-22 11:00' --csv v3.csv\n"
        "  nexusdata read rec --kind orders --csv - | head\n"
        "  nexusdata read rec --kind orders --rows executions",
        common,
    )
    read.add_argument("path", metavar="DIR", help="recording directory")
    _kind_flag(read, "depth, orders, risk or a ChaiNext topic (default: the only one)")
    read.add_argument("--rows", choices=ORDER_VIEWS, help="the view of the orders that was recorded (default orders)")
    read.add_argument("--symbol", nargs="+", help="symbol(s) of a Nexus feed")
    read.add_argument("--id", nargs="+", help="coin or index id(s) of a ChaiNext topic")
    read.add_argument("--start", help="first received_at to include (UTC unless the time says otherwise)")
    read.add_argument("--end", help="received_at to stop before")
    read.add_argument("--csv", metavar="OUT", help="write the rows as CSV to OUT ('-': standard output)")
    read.set_defaults(run=_read)

    compact = _subparser(
        sub,
        "compact",
        "merge the small files of a recording's closed partitions into large ones, atomically for readers",
        "  nexusdata compact rec                          # the days before today (UTC)\n"
        "  nexusdata compact rec --kind depth --before 2026-11-22 --target-size 256\n"
        "safe while recorders write today's partitions and while others read; rerun it after a kill",
        common,
    )
    compact.add_argument("path", metavar="DIR", help="recording directory")
    _kind_flag(compact, "compact this kind only (default: every kind)")
    compact.add_argument("--before", metavar="DAY", help="compact the days before DAY, YYYY-MM-DD (default: today, UTC)")
    compact.add_argument(
        "--target-size", type=float, default=128.0, metavar="MB", help="size of the merged files in MiB (default 128)"
    )
    compact.add_argument(
        "--idle",
        type=float,
        default=600.0,
        metavar="S",
        help="skip a partition written less than S seconds ago: a recorder may still be at it (default 600)",
    )
    compact.set_defaults(run=_compact)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``nexusdata`` console script; returns the exit status."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=args.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        return args.run(args)
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    except AuthenticationError as exc:
        print(f"nexusdata: credentials refused: {exc}", file=sys.stderr)
        return EXIT_CREDENTIALS
    except (NexusDataError, ValueError) as exc:
        print(f"nexusdata: error: {exc}", file=sys.stderr)
        return EXIT_USAGE if isinstance(exc, ValueError) else EXIT_ERROR
    except BrokenPipeError:  # whoever read the output went away (`| head`): not an error
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK
    except OSError as exc:
        print(f"nexusdata: error: {exc}", file=sys.stderr)
        return EXIT_ERROR


if __name__ == "__main__":
    sys.exit(main())
