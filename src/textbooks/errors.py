"""The one convention for errors a user can fix: raise them, and `textbooks` prints one line.

FileNotFoundError, FileExistsError, NotADirectoryError, IsADirectoryError and ValueError are user errors as they
are; an error of our own that is (a checkpoint that cannot be read or written, an LLM endpoint
that failed for good, a full disk) subclasses `UserError`. textbooks.cli prints any of them as
`textbooks COMMAND: error: MESSAGE` and exits 2; every other exception is a bug and shows its traceback.
"""


class UserError(Exception):
    """A failure of the input or the machine rather than of the code; its message says what to do."""


USER_ERRORS = (FileNotFoundError, FileExistsError, NotADirectoryError, IsADirectoryError, ValueError, UserError)
