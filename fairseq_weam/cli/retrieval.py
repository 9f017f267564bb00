"""``weam-retrieval``: word- and sentence-level cross-lingual retrieval accuracy of a checkpoint."""
import argparse
import json
import sys

import fairseq_weam  # noqa: F401  (registers the weam task; makes checkpoints loadable)
from fairseq_weam.atomic import write_text_atomic
from fairseq_weam.checkpoint_safety import TRUST_HELP, checkpoint_trust
from fairseq_weam.cli.entry import run_cli
from fairseq_weam.evaluation.retrieval import RetrievalOptions, evaluate_retrieval, summary_line


def build_parser():
    parser = argparse.ArgumentParser(
        prog="weam-retrieval",
        description="Cross-lingual word retrieval (nearest word of the translation is a linked word?) and "
        "sentence retrieval (top-1 over the held-out set, both directions) on an aligned weam data directory.",
    )
    parser.add_argument("checkpoint", help="fairseq RoBERTa / XLM-R checkpoint (.pt)")
    parser.add_argument("--data", required=True, help="data directory written by weam-prepare")
    parser.add_argument("--split", default="valid", help="split with alignments (default: valid)")
    parser.add_argument("--lang-pairs", default=None, help="comma-separated pairs (default: all in --data)")
    parser.add_argument("--max-sentences", type=int, default=1000, help="first N pairs of each language pair")
    parser.add_argument("--layer", type=int, default=-1,
                        help="hidden states to use: 0 = embeddings, k = layer k, -1 = last layer (default)")
    parser.add_argument("--word-pooling", choices=("mean", "first"), default="mean",
                        help="a word's state: mean of its pieces' states or its first piece's")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--trust-checkpoint", action="store_true", help=TRUST_HELP)
    parser.add_argument("--output", default=None, help="write the JSON report here (default: stdout)")
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    options = RetrievalOptions(split=args.split, lang_pairs=args.lang_pairs, max_sentences=args.max_sentences,
                               layer=args.layer, word_pooling=args.word_pooling, batch_size=args.batch_size)

    def run():
        with checkpoint_trust(args.trust_checkpoint, "--trust-checkpoint"):
            report = evaluate_retrieval(args.checkpoint, args.data, options)
        text = json.dumps(report, indent=2)
        if args.output:
            write_text_atomic(args.output, text + "\n")
        else:
            print(text)
        print(summary_line(report), file=sys.stderr)

    return run_cli("weam-retrieval", run)


if __name__ == "__main__":
    sys.exit(main())
