"""The base of every error the plugin reports to a user as one line (what is wrong, where, what to do)."""


class WeamError(Exception):
    """A user mistake or an environmental fault the user can fix; the CLIs print it as one line."""
