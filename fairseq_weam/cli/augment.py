"""weam-augment: write n synonym-substituted copies of each training pair (Robust-XLT's RS-DA).

Reads ``IN/train-en.tsv`` and writes ``OUT/train-en.tsv``; dev and test files are copied unchanged, so
``OUT`` is a task dir for weam-xtreme-prepare. Robust-XLT used --copies 10 for PAWS-X and 3 for XNLI.
"""
import argparse
import json
import shutil
import sys
from pathlib import Path

from tqdm import tqdm

from fairseq_weam.atomic import atomic_path
from fairseq_weam.cli.entry import run_cli
from fairseq_weam.robust.synonym_substitution import SynonymSubstituter, load_neighbours
from fairseq_weam.xtreme.augment import AugmentStats, augment
from fairseq_weam.xtreme.io import TASK_LABELS, format_row, read_pairs, resolve_labels


def build_parser():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("input_dir", help="task dir with train-en.tsv (s1 \\t s2 \\t label)")
    p.add_argument("output_dir", help="output task dir (must not exist)")
    p.add_argument("--neighbours", required=True, help="JSON {word: [neighbours]}")
    p.add_argument("--copies", type=int, default=3, help="perturbed copies per pair")
    p.add_argument("--keep-clean", action="store_true", help="also keep the original pair")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--task", choices=sorted(TASK_LABELS), help="label set used to validate the input")
    p.add_argument("--labels", help="comma-separated label set instead of --task")
    return p


def main(argv=None):
    args = build_parser().parse_args(argv)
    src, dest = Path(args.input_dir), Path(args.output_dir)

    def run():
        if dest.exists():
            raise FileExistsError(f"{dest} exists; choose a new output dir")
        labels = resolve_labels(args.task, args.labels)
        examples = read_pairs(src / "train-en.tsv", labels)
        substituter = SynonymSubstituter(load_neighbours(args.neighbours))
        stats = AugmentStats()
        with atomic_path(dest, directory=True) as tmp:
            with open(tmp / "train-en.tsv", "w", encoding="utf-8") as out:
                for ex in augment(tqdm(examples, desc="augment", unit="pair"), substituter, args.copies, args.seed,
                                  args.keep_clean, stats):
                    out.write(format_row(ex) + "\n")
            for other in sorted(src.glob("*.tsv")):
                if other.name != "train-en.tsv":
                    shutil.copy2(other, tmp / other.name)
            report = {**stats.as_dict(), "copies": args.copies, "keep_clean": args.keep_clean, "seed": args.seed,
                      "neighbours": str(args.neighbours)}
            (tmp / "augment_report.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
        print(f"weam-augment: {stats.examples} pairs -> {stats.written} written; "
              f"{100 * stats.examples_changed / max(stats.examples, 1):.1f}% of the pairs changed in at least one "
              f"copy, {100 * stats.changed_share:.1f}% of the perturbed copies differ from the original")

    return run_cli("weam-augment", run)


if __name__ == "__main__":
    sys.exit(main())
