"""The `openpinpoint` command."""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from rich.console import Console
from rich.progress import MofNCompleteColumn, Progress

from openpinpoint import __version__
from openpinpoint.cli_delivery import add_delivery_arguments, delivery_settings
from openpinpoint.cli_security import (
    add_keys_command,
    add_serve_arguments,
    keys_main,
    serve_settings,
)
from openpinpoint.cli_segments import add_segment_command, segment_main
from openpinpoint.cli_where import (
    STORE_ERRORS,
    announce_store,
    checked,
    env_default,
    existing_store,
    one_of,
    port,
    say,
    shown,
)
from openpinpoint.core.jobs import DEFAULT_LEASE_SECONDS
from openpinpoint.defaults import DEFAULT_ACCOUNT_ID, DEFAULT_HOST, DEFAULT_PORT
from openpinpoint.files import LOCAL_FILES_ENV, S3_ENDPOINT_ENV, FileSettings
from openpinpoint.keys import KeyFileError
from openpinpoint.preview import PreviewError, Request, load, print_preview
from openpinpoint.store.copy import (
    Counts,
    StoreCopyError,
    all_apps,
    copy_store,
    count_endpoints,
)
from openpinpoint.store.open import (
    DATA_DIR_ENV,
    StoreURLError,
    data_dir,
    default_url,
    open_store,
    sqlite_path,
)
from openpinpoint.transfer import TransferError, export_endpoints, import_files, print_summary


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="openpinpoint",
        description="A self-hosted server for the Amazon Pinpoint REST API "
        "(apps, endpoints, users, templates, channels, messages, segments).",
    )
    parser.add_argument("--version", action="version", version=f"openpinpoint {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    serve_cmd = commands.add_parser(
        "serve",
        help="run the HTTP server",
        description="Run the Pinpoint-compatible HTTP server. With no --db it keeps its data "
        f"in SQLite under ${DATA_DIR_ENV} (default ./openpinpoint-data).",
    )
    serve_cmd.add_argument(
        "--host",
        default=os.environ.get("OPENPINPOINT_HOST", DEFAULT_HOST),
        help=f"address to listen on (default {DEFAULT_HOST}; $OPENPINPOINT_HOST)",
    )
    serve_cmd.add_argument(
        "--port",
        type=checked(port, "a port number (0-65535)", "OPENPINPOINT_PORT"),
        default=env_default("OPENPINPOINT_PORT", str(DEFAULT_PORT)),
        help=f"port to listen on, 0 for any free port (default {DEFAULT_PORT}; $OPENPINPOINT_PORT)",
    )
    _add_store_options(serve_cmd)
    serve_cmd.add_argument(
        "--local-files",
        metavar="DIR",
        type=Path,
        default=os.environ.get(LOCAL_FILES_ENV) or None,
        help="let import and export jobs use file:// URLs inside DIR "
        f"(default: file:// URLs refused; ${LOCAL_FILES_ENV})",
    )
    serve_cmd.add_argument(
        "--job-lease-seconds",
        type=checked(float, "a number of seconds", "OPENPINPOINT_JOB_LEASE_SECONDS"),
        default=env_default("OPENPINPOINT_JOB_LEASE_SECONDS", str(DEFAULT_LEASE_SECONDS)),
        help="how long a job whose server stopped waits before another server resumes it "
        f"(default {DEFAULT_LEASE_SECONDS:g}; $OPENPINPOINT_JOB_LEASE_SECONDS)",
    )
    serve_cmd.add_argument(
        "--workers",
        type=_positive,
        default=env_default("OPENPINPOINT_WORKERS", "1"),
        metavar="N",
        help="server processes sharing the port (default 1; $OPENPINPOINT_WORKERS); on "
        "PostgreSQL each opens up to $OPENPINPOINT_DB_POOL_SIZE connections (default 10)",
    )
    levels = ("debug", "info", "warning", "error")
    serve_cmd.add_argument(
        "--log-level",
        default=env_default("OPENPINPOINT_LOG_LEVEL", "info"),
        type=checked(one_of(*levels), f"one of {', '.join(levels)}", "OPENPINPOINT_LOG_LEVEL"),
        choices=levels,
        help="log verbosity (default info; $OPENPINPOINT_LOG_LEVEL)",
    )
    serve_cmd.add_argument(
        "--access-log",
        action="store_true",
        help="log one line per request (client, access key id, method, operation, status, time, "
        "request id)",
    )
    serve_cmd.add_argument(
        "--account-id",
        default=os.environ.get("OPENPINPOINT_ACCOUNT_ID", DEFAULT_ACCOUNT_ID),
        help=f"AWS account id used in application ARNs (default {DEFAULT_ACCOUNT_ID})",
    )
    add_serve_arguments(serve_cmd)
    add_delivery_arguments(serve_cmd)
    add_keys_command(commands)

    migrate_cmd = commands.add_parser(
        "migrate-store",
        help="copy all data from one store into another",
        description="Copy everything (applications and their tags, endpoints and their users, "
        "the attribute-name registry) from one store into another, empty one, for example "
        "from SQLite to PostgreSQL or back, then check that both hold as many of each. Stop "
        "the servers that use the source first.",
    )
    migrate_cmd.add_argument(
        "--from", dest="source", metavar="URL", required=True, help="database URL to copy from"
    )
    migrate_cmd.add_argument(
        "--to",
        dest="target",
        metavar="URL",
        required=True,
        help="database URL to copy into; created if it is a new SQLite file, else must be empty",
    )

    export_cmd = commands.add_parser(
        "export",
        help="export an application's endpoints to gzip NDJSON files",
        description="Export every endpoint of an application, one EndpointResponse per line, "
        "as gzip NDJSON pieces under OUT/JOB-ID/ (the format Amazon Pinpoint's export jobs "
        "write). Works on the database directly; no server needs to run.",
    )
    export_cmd.add_argument("--app", required=True, metavar="ID", help="application id")
    export_cmd.add_argument(
        "--out",
        default="openpinpoint-export",
        metavar="PATH",
        help="a local directory, file:///path or s3://bucket/prefix "
        "(default ./openpinpoint-export)",
    )
    _add_store_options(export_cmd)

    import_cmd = commands.add_parser(
        "import",
        help="import endpoints from NDJSON or CSV files",
        description="Import endpoints from newline-delimited JSON (including Amazon Pinpoint "
        "export files) or CSV files, plain or .gz, with the same rules and limits as "
        "UpdateEndpoint. Works on the database directly; no server needs to run.",
    )
    import_cmd.add_argument(
        "files",
        nargs="+",
        metavar="FILE",
        help="a local file or directory, file:///path or s3://bucket/key (a key or a prefix)",
    )
    import_cmd.add_argument("--app", required=True, metavar="ID", help="application id")
    import_cmd.add_argument(
        "--format",
        choices=["json", "csv"],
        help="the files' format (default: from each file name)",
    )
    _add_store_options(import_cmd)

    render_cmd = commands.add_parser(
        "render",
        help="print a message template rendered for an endpoint or user",
        description="Render a stored message template for a real endpoint, or for each of a "
        "user's endpoints on the template's channel, as the recipient would receive it, "
        "without sending anything. Works on the database directly; no server needs to run.",
    )
    render_cmd.add_argument("name", metavar="NAME", help="template name")
    render_cmd.add_argument(
        "--type", required=True, choices=["email", "sms", "push"], help="template type"
    )
    render_cmd.add_argument("--version", metavar="V", help="template version (default: active)")
    render_cmd.add_argument("--app", required=True, metavar="ID", help="application id")
    recipient = render_cmd.add_mutually_exclusive_group(required=True)
    recipient.add_argument("--endpoint", metavar="ID", help="endpoint id")
    recipient.add_argument("--user", metavar="ID", help="user id")
    _add_db_option(render_cmd)
    add_segment_command(commands, _add_store_options)
    return parser


def _add_db_option(command: argparse.ArgumentParser) -> None:
    command.add_argument(
        "--db",
        metavar="URL",
        default=os.environ.get("OPENPINPOINT_DB"),
        help="database URL: sqlite:///relative.db, sqlite:////absolute/path.db or "
        "postgresql://USER[:PASSWORD]@HOST[:PORT]/DATABASE "
        "(default: SQLite in the data directory; $OPENPINPOINT_DB)",
    )


def _add_store_options(command: argparse.ArgumentParser) -> None:
    _add_db_option(command)
    command.add_argument(
        "--s3-endpoint-url",
        metavar="URL",
        default=os.environ.get(S3_ENDPOINT_ENV) or None,
        help="S3-compatible object store for s3:// URLs, e.g. http://127.0.0.1:9000 for MinIO "
        f"(default: AWS S3; ${S3_ENDPOINT_ENV}); credentials come from the standard AWS_* "
        "variables or files",
    )


def _transfer(args: argparse.Namespace) -> int:
    url = args.db or default_url()
    out = Console()
    if not existing_store(url):
        return 2
    try:
        if args.command == "export":
            summary = asyncio.run(
                export_endpoints(url, args.app, args.out, s3_endpoint_url=args.s3_endpoint_url)
            )
        else:
            summary = asyncio.run(
                import_files(
                    url,
                    args.app,
                    args.files,
                    fmt="CSV" if args.format == "csv" else "JSON" if args.format else None,
                    s3_endpoint_url=args.s3_endpoint_url,
                )
            )
    except (TransferError, *STORE_ERRORS) as error:
        say(f"{error} (store {shown(url)})")
        return 2
    except KeyboardInterrupt:
        say(
            "interrupted; the job is marked FAILED. The rows it wrote stay written: run the "
            "same command again to finish (it imports every row again, to the same values)"
            if args.command == "import"
            else "interrupted; the job is marked FAILED"
        )
        return 130
    print_summary(summary, out)
    return 1 if summary.failed_jobs or summary.failures else 0


def _render(args: argparse.Namespace) -> int:
    request = Request(
        name=args.name,
        template_type=args.type,
        version=args.version,
        app_id=args.app,
        endpoint_id=args.endpoint,
        user_id=args.user,
    )
    url = args.db or default_url()
    if not existing_store(url):
        return 2
    try:
        template, recipients = asyncio.run(load(url, request))
    except (PreviewError, StoreURLError, RuntimeError) as error:
        say(str(error))
        return 1
    return 0 if print_preview(template, recipients, sys.stdout) else 1


def _positive(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number of at least 1, not {text!r}")
    return int(text)


def _collect_less_often() -> None:
    """A bulk command makes millions of short-lived containers (the dicts and lists of the
    documents it decodes and builds) that form no cycles; with Python's default thresholds
    the collector walked them every 700 allocations, about 8% of an import's time. The
    server keeps the defaults: it measured no different."""
    gc.set_threshold(10_000, 10, 10)


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    if args.command == "keys":
        return keys_main(args, parser)
    if args.command in ("export", "import", "migrate-store"):
        _collect_less_often()
    if args.command in ("export", "import"):
        return _transfer(args)
    if args.command == "segment":
        return segment_main(args)
    if args.command == "migrate-store":
        return migrate_store(args.source, args.target)
    if args.command == "render":
        return _render(args)
    if args.command == "serve":
        return _serve(args, parser)
    return 0


def _serve(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    # Here, not at the top: every other command starts without the server's modules.
    from openpinpoint.server import ServeError, ServerSettings, serve  # noqa: PLC0415

    url = args.db or default_url()
    security = serve_settings(args, parser)
    announce_store(url)
    try:
        open_store_check(url)
    except STORE_ERRORS as error:
        say(f"cannot use the store {shown(url)}: {error}")
        return 2
    settings = ServerSettings(
        db_url=url,
        host=args.host,
        port=args.port,
        account_id=args.account_id,
        log_level=args.log_level,
        access_log=args.access_log,
        files=FileSettings(s3_endpoint_url=args.s3_endpoint_url, local_root=args.local_files),
        job_lease_seconds=args.job_lease_seconds,
        workers=args.workers,
        delivery=delivery_settings(args, parser),
        data_dir=data_dir(),
        **security,
    )
    try:
        serve(settings)
    except (KeyFileError, ServeError) as error:
        say(str(error))
        return 2
    except KeyboardInterrupt:
        # uvicorn re-raises Ctrl-C once it has shut down gracefully; that is a normal end.
        return 130
    return 0


def open_store_check(url: str) -> None:
    """Fail fast, before binding a port, on a URL that cannot be opened."""
    asyncio.run(open_store(url).close())


def migrate_store(source_url: str, target_url: str) -> int:
    console = Console(stderr=True)
    if source_url == target_url:
        console.print("openpinpoint: --from and --to name the same store")
        return 2
    if source_url.startswith("sqlite:///") and not sqlite_path(source_url).is_file():
        console.print(f"openpinpoint: there is no SQLite database at {source_url}")
        return 2
    try:
        counts = asyncio.run(_copy(source_url, target_url, console))
    except (StoreURLError, StoreCopyError, RuntimeError) as error:
        console.print(f"openpinpoint: {error}")
        return 1
    console.print(
        f"copied and checked {counts.apps} applications, {counts.endpoints} endpoints, "
        f"{counts.users} users, {counts.attribute_names} attribute names and "
        f"{counts.resources} templates, channels and segments (versions counted)"
    )
    return 0


async def _copy(source_url: str, target_url: str, console: Console) -> Counts:
    source = open_store(source_url)
    try:
        target = open_store(target_url)
        try:
            total = await count_endpoints(source, await all_apps(source))
            with Progress(
                *Progress.get_default_columns(), MofNCompleteColumn(), console=console
            ) as progress:
                task = progress.add_task("copying endpoints", total=total)
                return await copy_store(source, target, lambda n: progress.advance(task, n))
        finally:
            await target.close()
    finally:
        await source.close()
