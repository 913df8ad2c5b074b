"""The one exception the data layer raises for user mistakes.

Entry points catch it and print its message without a traceback, so every message
must say what is wrong (naming the file or setting) and how to fix it.
"""


class DataError(ValueError):
    """A data set cannot be read as configured; the message names the problem and the fix."""
