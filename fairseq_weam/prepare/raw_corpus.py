"""The raw input layout ``RAW/{split}.{l1}-{l2}.{lang}``: finding pairs, checking files before any work."""
import re
from pathlib import Path
from typing import List, Optional, Tuple

from fairseq_weam.prepare.config import PrepareError
from fairseq_weam.text_file import decoded_line

REQUIRED_SPLITS = ("train", "valid")
OPTIONAL_SPLITS = ("test",)
_SPLIT_FILE = re.compile(r"^(train|valid|test)\.([^.\-]+)-([^.\-]+)\.([^.\-]+)$")


def discover_pairs(raw_dir) -> List[Tuple[str, str]]:
    """Every (l1, l2) with ``train.l1-l2.l1`` and ``train.l1-l2.l2`` in ``raw_dir``, sorted.

    A file named like one side of a pair whose other side is missing is an error, not silently ignored.
    """
    raw_dir = Path(raw_dir)
    pairs = set()
    for path in sorted(raw_dir.glob("*.*-*.*")):
        match = _SPLIT_FILE.match(path.name)
        if not match:
            continue
        split, l1, l2, lang = match.groups()
        if lang not in (l1, l2):
            continue
        other = raw_dir / f"{split}.{l1}-{l2}.{l2 if lang == l1 else l1}"
        if not other.exists():
            raise PrepareError(
                f"{path} looks like one side of the pair {l1}-{l2}, but {other} is missing; name both sides "
                f"{split}.{l1}-{l2}.{l1} and {split}.{l1}-{l2}.{l2} (or move the stray file out of --raw-dir)"
            )
        if split == "train":
            pairs.add((l1, l2))
    return sorted(pairs)


def parse_pair_list(items) -> List[Tuple[str, str]]:
    pairs = []
    for item in items:
        for spec in filter(None, (s.strip() for s in item.split(","))):
            langs = spec.split("-")
            if len(langs) != 2 or not all(langs) or langs[0] == langs[1]:
                raise PrepareError(f"bad language pair '{spec}': expected l1-l2 with two languages, e.g. en-de")
            pairs.append(tuple(langs))
    return pairs


def pair_name(pair) -> str:
    return f"{pair[0]}-{pair[1]}"


def pair_splits(raw_dir, pair) -> List[str]:
    """The splits of a pair: train and valid (required), test when present."""
    raw_dir, name = Path(raw_dir), pair_name(pair)
    for split in REQUIRED_SPLITS:
        for lang in pair:
            path = raw_dir / f"{split}.{name}.{lang}"
            if not path.exists():
                raise PrepareError(f"missing raw file {path} (each pair needs train and valid files for both languages)")
    return list(REQUIRED_SPLITS) + [s for s in OPTIONAL_SPLITS if (raw_dir / f"{s}.{name}.{pair[0]}").exists()]


def raw_paths(raw_dir, pair, split, with_alignment=False) -> List[Path]:
    """Source, target (and word-alignment) files of one split of a pair."""
    base = Path(raw_dir) / f"{split}.{pair_name(pair)}"
    paths = [base.with_name(f"{base.name}.{pair[0]}"), base.with_name(f"{base.name}.{pair[1]}")]
    if with_alignment:
        paths.append(base.with_name(f"{base.name}.align"))
    return paths


def count_lines(path) -> int:
    with open(path, "rb") as f:
        return sum(chunk.count(b"\n") for chunk in iter(lambda: f.read(1 << 20), b"")) + _unterminated_last_line(path)


def _unterminated_last_line(path) -> int:
    with open(path, "rb") as f:
        f.seek(0, 2)
        if f.tell() == 0:
            return 0
        f.seek(-1, 2)
        return 0 if f.read(1) == b"\n" else 1


def check_parallel(paths: List[Path]):
    """All files of one split have the same number of lines; otherwise an error naming files and counts."""
    for path in paths[1:]:
        if not path.exists():
            raise PrepareError(f"missing file {path} (needed beside {paths[0]})")
    counts = [count_lines(p) for p in paths]
    if len(set(counts)) > 1:
        listing = " and ".join(f"{p} has {c} lines" for p, c in zip(paths, counts))
        raise PrepareError(f"parallel files differ in length: {listing}; fix the files (nothing was written)")
    return counts[0]


def raw_line(raw: bytes, path, number: int, on_bad_utf8="error") -> Optional[str]:
    """The text of line ``number`` of the raw file ``path`` from its bytes, without the newline; None for a
    non-UTF-8 line when skipping, an error naming file:line otherwise."""
    return decoded_line(raw, path, number, PrepareError, on_bad_utf8,
                        fix="re-encode the file or pass --on-bad-utf8 skip")


def file_signature_list(paths) -> List:
    """Size and modification time of each file: a changed raw file makes its stages run again."""
    out = []
    for path in paths:
        stat = Path(path).stat()
        out.append([str(path), stat.st_size, stat.st_mtime_ns])
    return out
