"""weam-gettext-pairs: a PAWS-X-like sentence-pair task, or a single-sentence "which program?" task (XTREME
layout), from the machine's gettext catalogs."""
import argparse
import sys

from fairseq_weam.cli.entry import run_cli
from fairseq_weam.corpus.gettext_catalogs import DEFAULT_LOCALE_DIR
from fairseq_weam.corpus.gettext_pair_task import PairTaskSettings, write_task


def build_parser():
    d = PairTaskSettings()
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("out_dir", help="task dir to write (train-en.tsv, dev-en.tsv, test-{lang}.tsv); must not exist")
    p.add_argument("--label", choices=["same_program", "shared_term", "program"], default=d.label,
                   help="same_program: both messages from one program; shared_term: they share a content word; "
                        "program: one message per row, labelled with its program (--max-programs classes)")
    p.add_argument("--langs", default=",".join(d.langs), help="test languages besides English (comma-separated)")
    p.add_argument("--locale-dir", default=DEFAULT_LOCALE_DIR)
    p.add_argument("--train-size", type=int, default=d.train_size, help="training pairs (examples with --label program)")
    p.add_argument("--dev-size", type=int, default=d.dev_size, help="English dev pairs")
    p.add_argument("--test-size", type=int, default=d.test_size, help="test pairs (every language)")
    p.add_argument("--min-words", type=int, default=d.min_words, help="shortest English message kept (words)")
    p.add_argument("--max-words", type=int, default=d.max_words, help="longest English message kept (words)")
    p.add_argument("--max-programs", type=int, default=d.max_programs,
                   help="keep the N largest programs (0: all)")
    p.add_argument("--max-per-program", type=int, default=d.max_per_program, help="cap per program (balance)")
    p.add_argument("--min-per-program", type=int, default=d.min_per_program, help="drop smaller programs")
    p.add_argument("--negatives", choices=["random", "overlap"], default=d.negatives,
                   help="sentence2: a random message of the right kind, or the most word-overlapping of "
                        "--candidates random ones (hard pairs, as in PAWS)")
    p.add_argument("--candidates", type=int, default=d.candidates,
                   help="with --negatives overlap: random candidates for sentence2")
    p.add_argument("--seed", type=int, default=d.seed)
    return p


def main(argv=None):
    a = build_parser().parse_args(argv)
    settings = PairTaskSettings(
        label=a.label, langs=[x for x in a.langs.split(",") if x], locale_dir=a.locale_dir, train_size=a.train_size,
        dev_size=a.dev_size, test_size=a.test_size, min_words=a.min_words, max_words=a.max_words,
        max_programs=a.max_programs, max_per_program=a.max_per_program, min_per_program=a.min_per_program,
        negatives=a.negatives, candidates=a.candidates, seed=a.seed)

    def run():
        report = write_task(a.out_dir, settings)
        print(f"weam-gettext-pairs: {len(report['programs'])} programs; pairs {report['pairs']}; "
              f"wrote {a.out_dir}")

    return run_cli("weam-gettext-pairs", run)


if __name__ == "__main__":
    sys.exit(main())
