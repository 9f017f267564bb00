"""``weam-prepare``: raw parallel text -> the binarized, word-aligned data directory of ``--task weam``."""
import argparse
import dataclasses
import sys

from fairseq_weam.cli.entry import run_cli
from fairseq_weam.prepare.config import PrepareConfig, config_fields
from fairseq_weam.prepare.pipeline import prepare


def build_parser():
    parser = argparse.ArgumentParser(
        prog="weam-prepare",
        description="Clean, sentencepiece-encode, word-align and binarize RAW/{split}.{l1}-{l2}.{l1,l2} into "
        "DATA (dict.txt, sentencepiece.bpe.model, {split}.{l1}-{l2}.{lang}.bin/idx, {split}.align.{l1}-{l2}.bin/idx, "
        "prep_report.json/txt). Re-running skips the stages that are complete.",
    )
    for f in config_fields():
        flag = "--" + f.name.replace("_", "-")
        help_text = f.metadata["help"]
        if f.type is bool:
            parser.add_argument(flag, action="store_true", help=help_text)
        elif f.default is dataclasses.MISSING:
            parser.add_argument(flag, required=True, help=help_text)
        elif f.name == "pairs":
            parser.add_argument(flag, action="append", help=help_text)
        else:
            kind = type(f.default) if f.default is not None else str
            default_text = "" if f.default is None else f" (default: {f.default})"
            parser.add_argument(flag, type=kind, default=f.default, help=help_text + default_text)
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    return run_cli("weam-prepare", lambda: prepare(PrepareConfig(**vars(args))) and None)


if __name__ == "__main__":
    sys.exit(main())
