"""The `clusterank` command line: thin commands over the public Python API.

Every bad input ends as one `error: ...` line on stderr and exit status 2; Ctrl-C keeps what was
embedded so far (the next run resumes).
"""

from __future__ import annotations

import errno
import sys

import click
import typer

from clusterank.cli.common import app, setup_logging
from clusterank import ClusterankError, printable


@app.callback()
def _root(verbose: bool = typer.Option(False, "--verbose", "-v", help="More log lines.")) -> None:
    setup_logging(verbose)


# each module registers its commands on `app`
from clusterank.cli import compare, cost, data, index, search, serve, train  # noqa: E402,F401
from clusterank.cli import audit  # noqa: E402,F401
from clusterank.cli import names  # noqa: E402,F401
from clusterank.cli import db  # noqa: E402,F401

_INTERRUPTED = 130


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; returns the exit status (2 for bad input, 130 when interrupted)."""
    try:
        result = app(args=argv, prog_name="clusterank", standalone_mode=False)
        if result == _INTERRUPTED:  # typer turns KeyboardInterrupt into Exit(130)
            raise KeyboardInterrupt
        return result if isinstance(result, int) else 0
    except ClusterankError as exc:  # the one place error lines are printed: one line, never wrapped, and
        sys.stderr.write(f"error: {printable(exc, None)}\n")  # nothing a server sent can drive the terminal
        return ClusterankError.exit_code
    except OSError as exc:
        if exc.errno not in (errno.ENOSPC, errno.EDQUOT):
            raise
        where = f" writing {printable(exc.filename, None)}" if exc.filename else ""
        sys.stderr.write(f"error: no space left on the device{where}; what was finished is kept: free some space "
                         f"and run the same command again\n")
        return ClusterankError.exit_code
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except (click.exceptions.Abort, KeyboardInterrupt):
        sys.stderr.write("\ninterrupted: what was embedded so far is cached; run the same command again to resume\n")
        return _INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())

