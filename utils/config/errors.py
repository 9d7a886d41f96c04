"""The exception types for problems a user can fix, and their exit codes."""

import re


class UserError(Exception):
    """A problem in the user's input or environment, with a message that says how to fix it.

    Entry scripts catch it, print the message without a traceback and exit with ``exit_code``
    (:data:`EXIT_USER_ERROR`). Anything else that escapes is a bug in the toolkit.
    """

    exit_code = 2


class NonFiniteError(UserError):
    """Training produced a NaN or infinite loss (or gradient norm); nothing non-finite was saved."""

    exit_code = 3


EXIT_USER_ERROR = UserError.exit_code
EXIT_NONFINITE = NonFiniteError.exit_code

# A DataLoader worker's exception reaches the main process as "Caught UserError in DataLoader worker
# process 0.\nOriginal Traceback (most recent call last):\n  File ...\nutils.config.errors.UserError: <message>".
_WORKER_PREFIX = re.compile(
    r"Caught \w+ in DataLoader worker process \d+\.\nOriginal Traceback \(most recent call last\):\n"
)
_TRACEBACK_LINE = re.compile(r"^(  |Traceback \(most recent call last\):)")


def user_message(exc: BaseException) -> str:
    """The message as the user should read it: a worker's wrapping and traceback removed."""
    text = str(exc)
    if not _WORKER_PREFIX.match(text):
        return text
    lines = text.split("\n")[2:]
    for i, line in enumerate(lines):
        if not _TRACEBACK_LINE.match(line):  # the first unindented line is "module.Type: message"
            return "\n".join(lines[i:]).split(": ", 1)[-1]
    return text
