"""`python -m api.schema > schema.graphql`: print the SDL that is committed at the repository root."""

from __future__ import annotations

import sys

from api.schema import build_schema
from api.settings import Settings


def main() -> None:
    sys.stdout.write(str(build_schema(Settings())) + "\n")


if __name__ == "__main__":
    main()
