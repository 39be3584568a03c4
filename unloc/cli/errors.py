"""User mistakes apart from bugs: the one place where a command's exception becomes one line on stderr and exit 2.

Commands raise; they do not print and return 2 themselves. `call_command(func, args, prog)` runs a command and, for
an exception that means bad input (an argument, a file, a record, a config value: the types in `USER_ERRORS`, and the
`OSError`s of a path), prints `prog: error: <message>` on stderr and returns 2. Any other exception is a bug and keeps
its traceback; with `debug` (the `--debug` flag) user errors show their traceback too.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Iterator


class UsageError(ValueError):
    """A command-line argument, or a file it names, that cannot be used; the message names the argument or file."""


# module -> its exception types that mean bad input. Only modules already imported are looked at: an exception of a
# module that was never imported cannot have been raised, and checking stays free of imports.
USER_ERRORS: dict[str, tuple[str, ...]] = {
    "unloc.cli.errors": ("UsageError",),
    "unloc.schema": ("ConfigError",),
    "unloc.data.formats.quirks": ("AnnotationError",),  # also unloc.eval.inputs.EvalInputError (the same class)
    "unloc.data.video": ("VideoDecodeError",),
    "unloc.data.extract": ("VideoListError",),
    "unloc.data.features": ("CacheMismatchError", "CacheEntryError"),
    "unloc.model.clip_loader": ("CheckpointError",),
    "unloc.train.checkpoint": ("ResumeError", "CorruptCheckpointError"),
    "unloc.train.loop": ("NonFiniteLossError",),
    "unloc.infer.localize": ("LocalizeError",),
}
# a path that is missing, of the wrong kind or not accessible: the input's fault, not the program's
PATH_ERRORS = (FileNotFoundError, FileExistsError, IsADirectoryError, NotADirectoryError, PermissionError)
EXIT_USER_ERROR = 2
EXIT_INTERRUPTED = 130  # the shell's code for SIGINT


def _user_error_types() -> Iterator[type]:
    for module_name, names in USER_ERRORS.items():
        module = sys.modules.get(module_name)
        if module is not None:
            yield from (getattr(module, name) for name in names)


def is_user_error(err: BaseException) -> bool:
    """True for exceptions that report bad input rather than a bug."""
    if isinstance(err, PATH_ERRORS):
        return True
    if isinstance(err, OSError) and err.filename is not None:  # e.g. no space left on a named device
        return True
    return isinstance(err, tuple(_user_error_types()))


def describe(err: BaseException) -> str:
    """The message of a user error: an `OSError` as 'path: reason', others as their text."""
    if isinstance(err, OSError) and err.filename is not None and err.strerror:
        where = f"{err.filename} -> {err.filename2}" if err.filename2 is not None else f"{err.filename}"
        return f"{where}: {err.strerror}"
    return str(err).strip() or type(err).__name__


def call_command(func: Callable[[argparse.Namespace], int | None], args: argparse.Namespace, prog: str, *,
                 debug: bool = False) -> int:
    """Run `func(args)` and return its exit code; a user error prints one line and returns 2 (see the module doc).

    Args:
        func: the command; returns its exit code (None = 0).
        args: its parsed arguments.
        prog: how the message starts, e.g. 'unloc train'.
        debug: re-raise user errors too, with their traceback.
    """
    try:
        return int(func(args) or 0)
    except KeyboardInterrupt:
        if debug:
            raise
        print(f"{prog}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as err:
        if debug or not is_user_error(err):
            raise
        print(f"{prog}: error: {describe(err)}", file=sys.stderr)
        return EXIT_USER_ERROR


__all__ = ["EXIT_USER_ERROR", "USER_ERRORS", "UsageError", "call_command", "describe", "is_user_error"]
