"""Shared by the contrastive, hybrid-batch and retrieval-attack tests: tiny aligned data binarized in-process
(no fairseq-preprocess subprocess), a tiny model, and one short hybrid fairseq-train run, each made once per
test process."""
import functools
import random
import tempfile
from pathlib import Path

import torch
from fairseq.data import Dictionary, indexed_dataset

from weam_pair_data import make_pair, write_dictionary
from weam_testing import TINY_ROBERTA, USER_DIR, run, tool

N_WORDS = 30


def binarize(path, rows, vocab_size):
    """rows as fairseq-preprocess writes them (mmap; int32 for alignments, whose vocab_size is None)."""
    builder = indexed_dataset.make_builder(f"{path}.bin", "mmap", vocab_size=vocab_size)
    for row in rows:
        builder.add_item(row)
    builder.finalize(f"{path}.idx")


@functools.lru_cache(maxsize=None)
def aligned_data(n_train=96, n_valid=40, pairs=("en-de",)):
    """A weam data directory (dict.txt, {split}.{pair}.{lang}, {split}.align.{pair}) from weam_pair_data's pairs."""
    root = Path(tempfile.mkdtemp(prefix="weam_contrastive_"))
    data = root / "data"
    data.mkdir()
    dictionary_path = write_dictionary(data / "dict.txt", N_WORDS)
    dictionary = Dictionary.load(str(dictionary_path))
    for pair in pairs:
        l1, l2 = pair.split("-")
        for split, n in (("train", n_train), ("valid", n_valid)):
            rng = random.Random(f"0-{pair}-{split}")
            rows = [make_pair(rng, N_WORDS) for _ in range(n)]
            for lang, k in ((l1, 0), (l2, 1)):
                binarize(data / f"{split}.{pair}.{lang}", [
                    dictionary.encode_line(r[k], add_if_not_exist=False, append_eos=True).long() for r in rows],
                    len(dictionary))
            binarize(data / f"{split}.align.{pair}", [
                torch.tensor([int(v) for link in r[2].split() for v in link.split("-")], dtype=torch.int32)
                for r in rows], None)
    return data


def tiny_model(task, seed=0):
    from fairseq import options
    parser = options.get_training_parser()
    args = options.parse_args_and_arch(parser, ["x", "--task", "weam", "--user-dir", str(USER_DIR), *TINY_ROBERTA])
    torch.manual_seed(seed)
    return task.build_model(args).eval()


@functools.lru_cache(maxsize=None)
def hybrid_training_run():
    """``(checkpoint, fairseq-train output)`` of 4 updates of --objective hybrid on ``aligned_data()``."""
    data = aligned_data()
    save_dir = data.parent / "ckpt"
    proc = run([tool("fairseq-train"), data, "--user-dir", USER_DIR, "--task", "weam", "--criterion", "weam",
                "--objective", "hybrid", "--hybrid-objectives", "weam:0.5,contrastive:0.3,mlm:0.2",
                *TINY_ROBERTA, "--tokens-per-sample", "64", "--batch-size", "16", "--optimizer", "adam",
                "--lr", "1e-3", "--max-update", "4", "--save-dir", save_dir, "--cpu", "--num-workers", "0",
                "--no-epoch-checkpoints", "--log-format", "json", "--log-interval", "1", "--disable-validation"])
    return save_dir / "checkpoint_last.pt", proc.stdout + proc.stderr
