"""``python -m kestra_magic.sandbox``: serve a Kestra-compatible sandbox until Ctrl-C."""
from __future__ import annotations

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m kestra_magic.sandbox",
                                     description="A local Kestra-compatible server (kestra-magic sandbox).")
    parser.add_argument("--host", default="127.0.0.1", help="interface to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8080, help="port (default 8080; 0 picks a free one)")
    parser.add_argument("--api", type=int, choices=(1, 2), default=2,
                        help="Kestra API generation to emulate: 2 (default, 2.0.x) or 1 (1.3.x)")
    parser.add_argument("--username", help="basic-auth user (with --password)")
    parser.add_argument("--password", help="basic-auth password (with --username)")
    parser.add_argument("--token", help="accept this bearer token")
    parser.add_argument("--data-dir", help="internal storage directory (default: a temporary one)")
    parser.add_argument("--version", dest="server_version", help="version string to report")
    args = parser.parse_args(argv)
    if bool(args.username) != bool(args.password):
        parser.error("--username and --password go together")
    from kestra_magic.sandbox import Sandbox
    try:
        sb = Sandbox(api=args.api, host=args.host, port=args.port, username=args.username,
                     password=args.password, token=args.token, data_dir=args.data_dir,
                     version=args.server_version).start()
    except OSError as exc:
        print(f"kestra sandbox: cannot listen on {args.host}:{args.port}: {exc.strerror or exc}; "
              f"pick another --port (0 = any free port)", file=sys.stderr)
        return 2
    auth = " (basic auth on)" if args.username else (" (bearer token on)" if args.token else "")
    print(f"Kestra sandbox {sb.version} (api {args.api}) serving on {sb.url}{auth} - Ctrl-C to stop", flush=True)
    sb.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
