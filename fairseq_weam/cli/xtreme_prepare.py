"""weam-xtreme-prepare: binarize an XNLI / PAWS-X task dir (XTREME layout) for fairseq sentence_prediction."""
import argparse
import json
import sys

from fairseq_weam.cli.entry import run_cli
from fairseq_weam.xtreme.io import TASK_LABELS, resolve_labels
from fairseq_weam.xtreme.binarize import prepare


def build_parser():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("task_dir", help="dir with train-en.tsv, dev-en.tsv, test-{lang}.tsv (s1 \\t s2 \\t label)")
    p.add_argument("--destdir", required=True, help="output dir (input0/ input1/ label/); must not exist")
    p.add_argument("--spm-model", required=True, help="the checkpoint's sentencepiece model")
    p.add_argument("--dict", required=True, help="the checkpoint's fairseq dict.txt")
    p.add_argument("--task", choices=sorted(TASK_LABELS), help="known label set (xnli, pawsx)")
    p.add_argument("--labels", help="comma-separated label set instead of --task (order = class ids)")
    p.add_argument("--langs", help="comma-separated test languages (default: every test-{lang}.tsv)")
    p.add_argument("--no-generalized", action="store_true", help="skip the test.{l1}-{l2} subsets")
    p.add_argument("--max-len", type=int, default=128, help="max pieces per pair, special tokens included")
    p.add_argument("--workers", type=int, default=1, help="fairseq-preprocess workers")
    return p


def main(argv=None):
    args = build_parser().parse_args(argv)

    def run():
        labels = resolve_labels(args.task, args.labels)
        report = prepare(args.task_dir, args.destdir, args.spm_model, args.dict, labels,
                         langs=args.langs.split(",") if args.langs else None,
                         generalized=not args.no_generalized, max_len=args.max_len, workers=args.workers)
        print(json.dumps({k: report[k] for k in ("labels", "subsets")}, indent=1))
        print(f"--valid-subset names: {','.join(report['valid_subsets'])}")

    return run_cli("weam-xtreme-prepare", run)


if __name__ == "__main__":
    sys.exit(main())
