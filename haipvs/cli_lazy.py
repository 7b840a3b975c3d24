"""A subcommand parser whose arguments are added on first use (haipvs/cli.py build_parser)."""

from __future__ import annotations

import argparse
from collections.abc import Callable


class LazyArguments(argparse.ArgumentParser):
    """A subcommand's parser that adds its arguments when it is first used: parsing `haipvs
    --config FILE` (the daemon) then imports none of the subcommands' modules. `lab` and
    `realserver` took their add_arguments from modules that import secrets, hmac and OpenSSL's
    libcrypto (3.4 MiB of RSS; issue 18)."""

    def __init__(self, *args: object, add_arguments: Callable[[argparse.ArgumentParser], None],
                 **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self._pending: Callable[[argparse.ArgumentParser], None] | None = add_arguments

    def populate(self) -> None:
        pending, self._pending = self._pending, None
        if pending is not None:
            pending(self)

    def parse_known_args(self, *args: object, **kwargs: object) -> object:  # type: ignore[override]
        self.populate()
        return super().parse_known_args(*args, **kwargs)  # type: ignore[arg-type]

    def format_usage(self) -> str:
        self.populate()
        return super().format_usage()

    def format_help(self) -> str:
        self.populate()
        return super().format_help()
