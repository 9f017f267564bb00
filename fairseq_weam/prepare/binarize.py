"""Binarization with ``fairseq-preprocess`` (text, and alignments via ``--align-suffix align``), per pair."""
import shutil
import tempfile
from pathlib import Path
from typing import Dict, List

from fairseq.data import Dictionary

from fairseq_weam.fairseq_preprocess import run_fairseq_preprocess
from fairseq_weam.prepare.config import PrepareError

_SPLIT_FLAGS = {"train": "--trainpref", "valid": "--validpref", "test": "--testpref"}


def binarized_names(pair, splits) -> List[str]:
    """The files fairseq-preprocess writes for a pair (the data contract), without the per-language dicts."""
    l1, l2 = pair
    names = []
    for split in splits:
        for stem in (f"{split}.{l1}-{l2}.{l1}", f"{split}.{l1}-{l2}.{l2}", f"{split}.align.{l1}-{l2}"):
            names += [f"{stem}.bin", f"{stem}.idx"]
    return names


def count_unknown_pieces(piece_path, dictionary: Dictionary) -> Dict[str, int]:
    """Pieces of ``piece_path`` and how many fairseq's ``dictionary`` maps to ``<unk>`` (as binarizing will)."""
    pieces = unknown = 0
    unk = dictionary.unk()
    with open(piece_path, encoding="utf-8") as f:
        for line in f:
            tokens = line.split()
            pieces += len(tokens)
            unknown += sum(dictionary.index(token) == unk for token in tokens)
    return {"pieces": pieces, "unk": unknown}


def binarize_pair(pieces_dir, pair, splits, dict_path, outputs: Dict[str, Path], workers=1, tmp_dir=None):
    """Run fairseq-preprocess on ``pieces_dir/{split}.l1-l2.{l1,l2,align}``; move each file to ``outputs[name]``."""
    l1, l2 = pair
    with tempfile.TemporaryDirectory(prefix=f"weam-binarize-{l1}-{l2}-", dir=tmp_dir) as dest:
        args = ["--source-lang", l1, "--target-lang", l2, "--align-suffix", "align",
                "--srcdict", str(dict_path), "--tgtdict", str(dict_path), "--destdir", dest,
                "--workers", str(workers)]
        for split in splits:
            args += [_SPLIT_FLAGS[split], str(Path(pieces_dir) / f"{split}.{l1}-{l2}")]
        run_fairseq_preprocess(args, f"{l1}-{l2}")
        for name, target in outputs.items():
            produced = Path(dest) / name
            if not produced.exists():
                raise PrepareError(f"fairseq-preprocess did not write {name} for {l1}-{l2}")
            shutil.move(str(produced), str(target))
