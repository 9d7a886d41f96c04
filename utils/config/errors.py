"""The one exception type for mistakes a user can fix (bad config, missing data, bad checkpoint)."""


class UserError(Exception):
    """A problem in the user's input, with a message that says how to fix it.

    Entry scripts catch it, print the message without a traceback and exit with
    :data:`EXIT_USER_ERROR`. Anything else that escapes is a bug in the toolkit.
    """


EXIT_USER_ERROR = 2
