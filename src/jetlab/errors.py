"""Exceptions with a message fit for one line of CLI output.

Every error a user can cause derives from :class:`JetlabError`; the CLI prints
``jetlab: error: <message>`` and exits with status 2. Messages name the file or
argument and the problem.
"""

from __future__ import annotations

__all__ = ["JetlabError", "InputError", "FormatError", "UsageError", "one_line", "brief"]


class JetlabError(Exception):
    """Base class of every error jetlab reports to a user."""


class InputError(JetlabError):
    """A file or directory cannot be read: missing, corrupt, truncated or inconsistent."""


class FormatError(InputError):
    """A file is readable but not in any layout jetlab knows, or its content is invalid."""


class UsageError(JetlabError):
    """A flag or argument has a bad value (negative count, unknown class name, ...)."""


def one_line(message: object) -> str:
    """``message`` as a single printable line: control characters (a file name read from a hostile
    manifest may hold a newline or a record separator) are written as escapes, ``\\n`` for a newline.

    Example:
        >>> print(one_line("d/s\\n0\\x1e.h5: missing"))
        d/s\\n0\\x1e.h5: missing
    """
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in str(message))


def brief(error: BaseException, limit: int = 160) -> str:
    """The first line of ``error``'s message, at most ``limit`` characters (its type name if it has none),
    to quote a library's error inside a jetlab one."""
    lines = str(error).splitlines()
    return lines[0][:limit] if lines else type(error).__name__
