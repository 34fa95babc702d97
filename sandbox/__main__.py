"""``python -m sandbox [--host H] [--port P] [--token T ...]``"""

import argparse

from .server import run


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m sandbox", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8081, help="port (default 8081)")
    parser.add_argument("--token", action="append", default=[], help="a bot token known from the start")
    args = parser.parse_args()
    run(args.host, args.port, args.token)


if __name__ == "__main__":
    main()
