"""The security parts of the command line: `serve` flags for authentication, throttling,
TLS and timeouts, and the `keys` command that manages access keys."""

from __future__ import annotations

import argparse
import ssl
import sys
from pathlib import Path
from typing import Any

from openpinpoint.cli_where import announce_keys_file, checked, env_default, one_of
from openpinpoint.core.values import is_resource_id
from openpinpoint.defaults import DEFAULT_BODY_TIMEOUT, DEFAULT_HEADER_TIMEOUT
from openpinpoint.keys import KEYS_FILE_ENV, KeyFile, KeyFileError, default_keys_path, new_key

DEFAULT_REGION = "us-east-1"


def _keys_file_arg(parser: argparse._ActionsContainer) -> None:
    parser.add_argument(
        "--keys-file",
        type=Path,
        metavar="PATH",
        default=None,
        help=f"the access keys file (default keys.json in the data directory; ${KEYS_FILE_ENV})",
    )


def add_serve_arguments(serve_cmd: argparse.ArgumentParser) -> None:
    group = serve_cmd.add_argument_group("security")
    group.add_argument(
        "--auth",
        choices=["sigv4", "none"],
        type=checked(one_of("sigv4", "none"), "sigv4 or none", "OPENPINPOINT_AUTH"),
        default=env_default("OPENPINPOINT_AUTH", "sigv4"),
        help="sigv4 (default): every request must be signed with an access key; none: "
        "anyone may call, for local testing only ($OPENPINPOINT_AUTH)",
    )
    _keys_file_arg(group)
    group.add_argument(
        "--throttle-rate",
        type=checked(float, "a number of requests per second", "OPENPINPOINT_THROTTLE_RATE"),
        metavar="PER_SECOND",
        default=env_default("OPENPINPOINT_THROTTLE_RATE", "0"),
        help="requests per second each access key may make, answered with 429 beyond it "
        "(default 0: no throttling; $OPENPINPOINT_THROTTLE_RATE)",
    )
    group.add_argument(
        "--throttle-burst",
        type=float,
        metavar="REQUESTS",
        default=None,
        help="requests a key may make at once before the rate applies (default: the rate)",
    )
    group.add_argument(
        "--body-timeout",
        type=float,
        metavar="SECONDS",
        default=DEFAULT_BODY_TIMEOUT,
        help="time a client has to send a request body before it gets 400 and its "
        f"connection is closed (default {DEFAULT_BODY_TIMEOUT:g})",
    )
    group.add_argument(
        "--header-timeout",
        type=float,
        metavar="SECONDS",
        default=DEFAULT_HEADER_TIMEOUT,
        help="time a client has to send a request's line and headers before it gets 400 and "
        f"its connection is closed (default {DEFAULT_HEADER_TIMEOUT:g})",
    )
    group.add_argument("--tls-cert", metavar="PEM", help="serve HTTPS with this certificate")
    group.add_argument("--tls-key", metavar="PEM", help="the private key of --tls-cert")


def serve_settings(args: argparse.Namespace, parser: argparse.ArgumentParser) -> dict[str, Any]:
    """The `ServerSettings` fields that the security flags set."""
    if bool(args.tls_cert) != bool(args.tls_key):
        parser.error("--tls-cert and --tls-key go together")
    if args.tls_cert:
        _check_tls(args.tls_cert, args.tls_key, parser)
    if args.throttle_rate < 0 or (args.throttle_burst is not None and args.throttle_burst < 1):
        parser.error("--throttle-rate must be 0 or more and --throttle-burst at least 1")
    if args.body_timeout <= 0 or args.header_timeout <= 0:
        parser.error("--body-timeout and --header-timeout must be more than 0 seconds")
    return {
        "auth": args.auth,
        "keys_file": args.keys_file.resolve() if args.keys_file else None,
        "throttle_rate": args.throttle_rate,
        "throttle_burst": args.throttle_burst,
        "body_timeout": args.body_timeout,
        "header_timeout": args.header_timeout,
        "tls_cert": args.tls_cert,
        "tls_key": args.tls_key,
    }


def _check_tls(cert: str, key: str, parser: argparse.ArgumentParser) -> None:
    """Refuse, naming the file, what the TLS layer would otherwise fail on with a traceback
    once the server has started."""
    for flag, path in (("--tls-cert", cert), ("--tls-key", key)):
        if not Path(path).is_file():
            parser.error(f"{flag} {path}: no such file")
    try:
        ssl.create_default_context(ssl.Purpose.CLIENT_AUTH).load_cert_chain(cert, key)
    except (ssl.SSLError, OSError) as error:
        parser.error(f"cannot use --tls-cert {cert} with --tls-key {key}: {error}")


def add_keys_command(commands: Any) -> None:
    keys_cmd = commands.add_parser(
        "keys",
        help="create, list and revoke access keys",
        description="Manage the access keys that callers sign their requests with. A key's "
        "secret is shown once, when it is created.",
    )
    actions = keys_cmd.add_subparsers(dest="keys_command", metavar="ACTION", required=True)
    create = actions.add_parser(
        "create",
        help="create a key and print it as an AWS credentials profile",
        description="Create an access key. Its id and secret are printed once, on standard "
        "output, as an AWS credentials-file profile.",
    )
    create.add_argument("--name", default="", help="what the key is for (shown by list)")
    create.add_argument(
        "--apps",
        metavar="ID,...",
        help="limit the key to these application ids (default: every application)",
    )
    create.add_argument(
        "--admin", action="store_true", help="the key may also create and delete applications"
    )
    create.add_argument(
        "--session-token",
        action="store_true",
        help="also issue a session token that every request must carry as X-Amz-Security-Token",
    )
    _keys_file_arg(create)
    listing = actions.add_parser("list", help="list keys (never their secrets)")
    _keys_file_arg(listing)
    revoke = actions.add_parser("revoke", help="delete a key; running servers refuse it at once")
    revoke.add_argument("key_id", metavar="KEY_ID")
    _keys_file_arg(revoke)


def keys_main(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    keys = KeyFile(args.keys_file.resolve() if args.keys_file else default_keys_path())
    announce_keys_file(keys.path, creating=args.keys_command == "create")
    try:
        if args.keys_command == "create":
            return _create(keys, args, parser)
        if args.keys_command == "list":
            return _list(keys)
        if keys.revoke(args.key_id):
            print(f"revoked {args.key_id}", file=sys.stderr)
            return 0
        print(f"openpinpoint: no access key {args.key_id} in {keys.path}", file=sys.stderr)
        return 1
    except KeyFileError as error:
        print(f"openpinpoint: {error}", file=sys.stderr)
        return 2


def _create(keys: KeyFile, args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    apps = None
    if args.apps is not None:
        if args.admin:
            parser.error("--admin keys use every application; leave out --apps")
        apps = [app for app in args.apps.split(",") if app]
        if not apps or not all(is_resource_id(app) for app in apps):
            parser.error(
                "--apps takes application ids (32 lowercase hex characters), comma-separated"
            )
    key = keys.create(
        new_key(name=args.name, admin=args.admin, apps=apps, session_token=args.session_token)
    )
    print(
        f"created access key {key.id} in {keys.path}; the secret below is shown only now",
        file=sys.stderr,
    )
    print(f"[{args.name or 'openpinpoint'}]")
    print(f"aws_access_key_id = {key.id}")
    print(f"aws_secret_access_key = {key.secret}")
    if key.session_token is not None:
        print(f"aws_session_token = {key.session_token}")
    # Any region will do (it only appears in ARNs), but the AWS CLI refuses to run without one.
    print(f"region = {DEFAULT_REGION}")
    return 0


def _list(keys: KeyFile) -> int:
    print(f"{'KEY ID':<20}  {'CREATED':<20}  {'ACCESS':<12}  NAME")
    for key in keys.load():
        if key.admin:
            access = "admin"
        elif key.apps is None:
            access = "all apps"
        else:
            access = f"{len(key.apps)} app(s)"
        print(f"{key.id:<20}  {key.created:<20}  {access:<12}  {key.name}")
        if key.apps:
            print(f"{'':<20}  apps: {','.join(key.apps)}")
    return 0
