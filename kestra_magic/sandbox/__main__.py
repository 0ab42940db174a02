"""``python -m kestra_magic.sandbox``: serve a Kestra-compatible sandbox until Ctrl-C.

It runs code as the user, so it starts with a credential (generated and printed once as a line to
copy, like ``jupyter lab`` prints its token URL, or given with ``--username/--password``); ``--no-auth``
runs it open on loopback only, with a warning.
"""
from __future__ import annotations

import argparse
import shlex
import sys


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m kestra_magic.sandbox",
                                     description="A local Kestra-compatible server (kestra-magic sandbox). "
                                                 "It runs flow scripts as you: it requires a credential "
                                                 "(generated unless given).")
    parser.add_argument("--host", default="127.0.0.1",
                        help="interface to listen on (default 127.0.0.1; 0.0.0.0 serves the network and "
                             "requires a credential)")
    parser.add_argument("--port", type=int, default=8080, help="port (default 8080; 0 picks a free one)")
    parser.add_argument("--api", type=int, choices=(1, 2), default=2,
                        help="Kestra API generation to emulate: 2 (default, 2.0.x) or 1 (1.3.x)")
    parser.add_argument("--username", help="basic-auth user (with --password; default: a generated credential)")
    parser.add_argument("--password", help="basic-auth password (with --username)")
    parser.add_argument("--token", help="also accept this bearer token")
    parser.add_argument("--no-auth", action="store_true",
                        help="run open, without a credential (loopback only; any local program can then run "
                             "code as you)")
    parser.add_argument("--allow-host", action="append", default=[], metavar="NAME",
                        help="also accept requests naming this Host (repeatable; '*' for any)")
    parser.add_argument("--allow-origin", action="append", default=[], metavar="ORIGIN",
                        help="let web pages of this origin change the sandbox, e.g. http://localhost:3000 "
                             "(repeatable)")
    parser.add_argument("--data-dir", help="keep state and the generated credential there (default: a temporary "
                                           "directory)")
    parser.add_argument("--version", dest="server_version", help="version string to report")
    args = parser.parse_args(argv)
    if bool(args.username) != bool(args.password):
        parser.error("--username and --password go together")
    if args.no_auth and (args.username or args.token):
        parser.error("--no-auth runs open: drop --username/--password/--token, or drop --no-auth")
    from kestra_magic.sandbox import Sandbox
    from kestra_magic.sandbox.guard import is_loopback
    if args.no_auth and not is_loopback(args.host):
        parser.error(f"--host {args.host} serves other machines and requires a credential: drop --no-auth "
                     f"(a credential is generated) or give --username/--password")
    try:
        sb = Sandbox(api=args.api, host=args.host, port=args.port, username=args.username,
                     password=args.password, token=args.token, auth=not args.no_auth, data_dir=args.data_dir,
                     version=args.server_version, allow_hosts=args.allow_host,
                     allow_origins=args.allow_origin).start()
    except OSError as exc:
        print(f"kestra sandbox: cannot listen on {args.host}:{args.port}: {exc.strerror or exc}; "
              f"pick another --port (0 = any free port)", file=sys.stderr)
        return 2
    except ValueError as exc:
        print(f"kestra sandbox: {exc}", file=sys.stderr)
        return 2
    try:
        auth = " (basic auth on)" if sb.username else (" (bearer token on)" if args.token else " (open, no auth)")
        print(f"Kestra sandbox {sb.version} (api {args.api}) serving on {sb.url}{auth} - Ctrl-C to stop", flush=True)
        if args.no_auth:
            print("WARNING: --no-auth: any program or user on this machine can run code as you through this "
                  "sandbox; drop --no-auth to require a credential", file=sys.stderr, flush=True)
        if not is_loopback(args.host):
            print(f"Serving other machines on {args.host}: they need the credential; give students the connection "
                  f"line below", flush=True)
        if sb.username and not args.username:
            # generated: shown once, as a line to copy (jupyter prints its token URL the same way)
            kept = f" (kept in {args.data_dir})" if args.data_dir else ""
            print(f"Connect with this generated credential{kept}:", flush=True)
            print(f"    export KESTRA_URL={shlex.quote(sb.url)} KESTRA_USERNAME={shlex.quote(sb.username)} "
                  f"KESTRA_PASSWORD={shlex.quote(sb.password)}", flush=True)
        sb.serve_forever()
    except KeyboardInterrupt:      # Ctrl-C while the banner is printed
        sb.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
