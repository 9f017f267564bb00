"""Align a corpus of pieces at word level with the chosen backend and return symmetrized word links.

The backends (``eflomal``, ``fast_align``) see the word tokens built by
:func:`~fairseq_weam.align.piece_projection.words_from_pieces`, one line per sentence pair; their forward
and reverse links are checked against the word counts and symmetrized. Temporary files (the tools' own
included) live in a ``weam-align-*`` directory that is removed whatever happens, an interrupt included.
"""
import tempfile
import threading
import time
from pathlib import Path
from typing import FrozenSet, List, Optional, Sequence

from fairseq_weam.align.eflomal_backend import align_eflomal
from fairseq_weam.align.external_tool import AlignerError, end_process_group
from fairseq_weam.align.fast_align_backend import align_fast_align
from fairseq_weam.align.pharaoh import AlignmentError, Link, check_links, parse_links, read_pharaoh_file
from fairseq_weam.align.symmetrization import find_atools, symmetrize_files

ALIGNERS = ("eflomal", "fast_align", "precomputed")


def align_word_corpus(
    src_words: Sequence[Sequence[str]],
    tgt_words: Sequence[Sequence[str]],
    aligner: str = "eflomal",
    heuristic: str = "grow-diag-final-and",
    fast_align_bin: Optional[str] = None,
    eflomal_bin: Optional[str] = None,
    atools_bin: Optional[str] = None,
    tmp_dir=None,
) -> List[FrozenSet[Link]]:
    """Symmetrized word links for each sentence pair (lists of word tokens, no empty sentence)."""
    if aligner not in ("eflomal", "fast_align"):
        raise ValueError(f"aligner {aligner!r} does not run on text; choose eflomal or fast_align")
    find_atools(atools_bin)  # a wrong --atools-bin fails before the aligner runs
    with aligner_workspace(tmp_dir) as tmp:
        tmp = Path(tmp)
        for name, lines in (("src", src_words), ("tgt", tgt_words)):
            with open(tmp / name, "w", encoding="utf-8") as f:
                f.writelines(" ".join(words) + "\n" for words in lines)
        forward, reverse = tmp / "forward", tmp / "reverse"
        run_aligner(tmp / "src", tmp / "tgt", forward, reverse, aligner, fast_align_bin, eflomal_bin, tmp)
        for path in (forward, reverse):
            check_aligner_output(path, src_words, tgt_words, aligner)
        return symmetrize_files(forward, reverse, heuristic, atools_bin)


def aligner_workspace(tmp_dir=None):
    """A ``weam-align-*`` temporary directory (context manager), removed whatever happens."""
    return tempfile.TemporaryDirectory(prefix="weam-align-", dir=tmp_dir)


def run_aligner(src_path, tgt_path, forward, reverse, aligner="eflomal", fast_align_bin=None, eflomal_bin=None,
                tmp_dir=None, on_start=None):
    """Write the forward and reverse word links of the word files ``src_path`` / ``tgt_path``.

    ``on_start(proc)`` is called with each process of the aligner as it starts.
    """
    if aligner == "eflomal":
        align_eflomal(src_path, tgt_path, forward, reverse, binary=eflomal_bin, tmp_dir=tmp_dir, on_start=on_start)
    elif aligner == "fast_align":
        align_fast_align(src_path, tgt_path, forward, reverse, binary=fast_align_bin, tmp_dir=tmp_dir,
                         on_start=on_start)
    else:
        raise ValueError(f"aligner {aligner!r} does not run on text; choose eflomal or fast_align")


class BackgroundAligner:
    """:func:`run_aligner` in a thread of this process, so other work runs while the aligner does.

    ``after``: another BackgroundAligner this one waits for (aligners run one at a time, one after the
    other, without this process having to start each; it does not run if that one failed or was stopped).
    ``wait()`` returns when it is done (raising its error, if any); ``stop()`` ends the aligner's process
    group (an interrupt or an error elsewhere) and waits for the thread. ``started`` / ``ended``: wall-clock
    times (``time.time()``) of the aligner run.
    """

    def __init__(self, *args, after: "BackgroundAligner" = None, **kwargs):
        self._lock = threading.Lock()
        self._procs, self._stopped, self._error = [], False, None
        self.started, self.ended = time.time(), None
        self._after = after
        self._thread = threading.Thread(target=self._run, args=args, kwargs=kwargs, daemon=True)
        self._thread.start()

    def _run(self, *args, **kwargs):
        try:
            if self._after is not None:
                while self._after._thread.is_alive() and not self._stopped:
                    self._after._thread.join(0.05)
                if self._stopped or self._after._error is not None or self._after._stopped:
                    raise AlignerError("not run: the aligner before it failed or was stopped")
                self.started = time.time()
            run_aligner(*args, on_start=self._on_start, **kwargs)
        except BaseException as err:  # handed to wait()
            self._error = err
        finally:
            self.ended = time.time()

    def _on_start(self, proc):
        with self._lock:
            self._procs.append(proc)
            stopped = self._stopped
        if stopped:  # stop() came first: this process ends at once
            end_process_group(proc)

    def wait(self):
        self._thread.join()
        if self._error is not None:
            raise self._error

    def stop(self):
        with self._lock:
            self._stopped = True
            procs = list(self._procs)
        for proc in procs:
            if proc.poll() is None:
                end_process_group(proc)
        self._thread.join()


def check_line_count(path, sentences: int, aligner: str):
    """The aligner wrote one line per sentence pair; otherwise an AlignerError."""
    with open(path, encoding="utf-8") as f:
        lines = sum(1 for _ in f)
    if lines != sentences:
        raise AlignerError(f"{aligner} wrote {lines} lines of links for {sentences} sentence pairs")


def read_checked_links(line: str, number: int, path, src_len: int, tgt_len: int, aligner: str):
    """One aligner output line, parsed and checked against the pair's word counts; otherwise an AlignerError."""
    try:
        links = parse_links(line, f"{path}:{number}")
        check_links(links, src_len, tgt_len, f"{aligner} output line {number}", fix=_fix(aligner))
    except AlignmentError as err:
        raise AlignerError(f"{aligner} wrote unusable links: {err}") from None
    return links


def _fix(aligner):
    return f"the {aligner} binary does not read its input as expected (is it a real {aligner}?)"


def check_aligner_output(path, src_words, tgt_words, aligner):
    """The aligner wrote one line per pair, with links inside each pair; otherwise an AlignerError."""
    try:
        lines = read_pharaoh_file(path)
        if len(lines) != len(src_words):
            raise AlignerError(f"{aligner} wrote {len(lines)} lines of links for {len(src_words)} sentence pairs")
        for number, (links, src, tgt) in enumerate(zip(lines, src_words, tgt_words), 1):
            check_links(links, len(src), len(tgt), f"{aligner} output line {number}", fix=_fix(aligner))
    except AlignmentError as err:
        raise AlignerError(f"{aligner} wrote unusable links: {err}") from None
