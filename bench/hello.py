"""The hello-world baseline of the benchmark: the cheapest Starlette response, served like tongban.

Usage::

    .venv/bin/python bench/hello.py [--host 127.0.0.1] [--port 8001] [--workers 1]

Why: req/s on a shared 2-core machine swing with whatever else runs, so bench/run.py judges every
endpoint as a ratio to this app, loaded in the same run by the same client. For the ratio to mean
anything, the baseline is served exactly the way `tongban serve` serves the site (api/cli.py
`_serve`): uvicorn, same worker count, proxy headers, no server header, log level "info" (so
access logging costs the same). Keep the flags below in step with api/cli.py.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

ROOT = Path(__file__).resolve().parent.parent


async def hello(request: Request) -> PlainTextResponse:
    return PlainTextResponse("Hello, world!")


app = Starlette(routes=[Route("/", hello, methods=["GET", "HEAD"])])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Starlette hello-world, served like `tongban serve`.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8001)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args(argv)

    import uvicorn

    # Worker processes re-import the app by name; make `bench.hello` importable from the checkout.
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    uvicorn.run(
        "bench.hello:app",
        host=args.host,
        port=args.port,
        workers=args.workers,
        proxy_headers=True,
        forwarded_allow_ips="127.0.0.1",
        server_header=False,
        log_level="info",
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
