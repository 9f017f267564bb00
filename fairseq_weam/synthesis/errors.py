"""The error of ``weam-synthesize`` (one line: what, where, what to do)."""
from fairseq_weam.errors import WeamError


class SynthesisError(WeamError, ValueError):
    """Bad input to synthesis: missing dictionary, no overlap with the vocabulary, empty text, bad flag."""
