"""python -m producer --help"""

from __future__ import annotations

import asyncio
import logging
import sys

from producer.config import parse
from producer.runner import Run


def main(argv: list[str] | None = None) -> int:
    settings = parse(argv)
    logging.basicConfig(
        level=settings.log_level,
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    logging.getLogger("websockets").setLevel(max(logging.WARNING, logging.root.level))
    return asyncio.run(Run(settings).run())


if __name__ == "__main__":
    sys.exit(main())
