"""The one error wrapper of the console scripts, and their exit-code convention.

Exit codes: 0 done; 1 a user mistake or a fault in the environment (bad input, missing file, disk
full), reported as one line ``PROG: error: ...`` on stderr, never a traceback; 2 a usage error (argparse's
own); 130 interrupted (Ctrl-C or SIGTERM), after the command's own clean-up has run.
"""
import signal
import sys
from typing import Callable, Optional

from fairseq_weam.errors import WeamError

EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


def _raise_interrupt(signum, frame):
    raise KeyboardInterrupt(f"signal {signum}")


def describe_os_error(err: OSError) -> str:
    where = f": {err.filename}" if err.filename else ""
    return f"{err.strerror or err}{where}"


def run_cli(prog: str, body: Callable[[], Optional[int]]) -> int:
    """Run ``body()``; turn the plugin's errors, ``ValueError`` and ``OSError`` into one line and an exit code.

    SIGTERM is handled like Ctrl-C, so ``finally`` blocks and context managers clean up either way.
    """
    previous = signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        return body() or EXIT_OK
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except (WeamError, ValueError) as err:
        print(f"{prog}: error: {err}", file=sys.stderr)
        return EXIT_ERROR
    except OSError as err:
        print(f"{prog}: error: {describe_os_error(err)}", file=sys.stderr)
        return EXIT_ERROR
    finally:
        signal.signal(signal.SIGTERM, previous)
