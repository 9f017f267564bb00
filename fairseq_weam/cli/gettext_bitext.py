"""``weam-gettext-bitext``: raw bitext for ``weam-prepare`` from the machine's gettext catalogs."""
import argparse
import sys

from fairseq_weam.corpus.gettext_bitext import build_gettext_bitext, parse_pairs
from fairseq_weam.cli.entry import run_cli
from fairseq_weam.corpus.gettext_catalogs import DEFAULT_LOCALE_DIR


def build_parser():
    parser = argparse.ArgumentParser(
        prog="weam-gettext-bitext",
        description="Write RAW/{train,valid}.{l1}-{l2}.{l1,l2} from the compiled gettext catalogs (.mo) "
        "installed under --locale-dir (English msgid -> translated msgstr).",
    )
    parser.add_argument("--pairs", required=True, help="comma-separated pairs with English on one side, e.g. en-de,en-zh_CN")
    parser.add_argument("--out", required=True, help="output directory (the RAW dir of weam-prepare)")
    parser.add_argument("--valid-size", type=int, default=500, help="pairs per language held out as valid")
    parser.add_argument("--max-pairs", type=int, default=None, help="cap on pairs per language (train + valid)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the shuffle before the split")
    parser.add_argument("--locale-dir", default=DEFAULT_LOCALE_DIR, help="root of <lang>/LC_MESSAGES/*.mo")
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    return run_cli("weam-gettext-bitext", lambda: build_gettext_bitext(
        parse_pairs(args.pairs), args.out, valid_size=args.valid_size, max_pairs=args.max_pairs,
        seed=args.seed, locale_dir=args.locale_dir) and None)


if __name__ == "__main__":
    sys.exit(main())
