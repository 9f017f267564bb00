"""weam-report: one table (mean ± std over seeds) and one plot from several weam-evaluate runs.

    weam-report weam+none=runs/a/eval/results.json weam+none=runs/b/eval/results.json \
                tlm+none=runs/c/eval/results.json --out-dir report

Runs that share a label are seeds of one system. Writes summary.md, summary.json and comparison.png.
Every run must cover the same test languages; --intersection reports on the languages all runs share
instead (said in the table). The "majority" row is the majority-class accuracy of the gold labels.
"""
import argparse
import sys

from fairseq_weam.cli.entry import run_cli
from fairseq_weam.evaluation.comparison import parse_run_specs, write_comparison


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("runs", nargs="+", metavar="LABEL=RESULTS_JSON",
                        help="a weam-evaluate results.json, labelled; repeat a label for several seeds")
    parser.add_argument("--out-dir", required=True, help="where summary.md, summary.json, comparison.png go")
    parser.add_argument("--intersection", action="store_true",
                        help="when runs cover different languages, report on the languages all share "
                             "(default: refuse)")
    args = parser.parse_args(argv)

    def run():
        print(write_comparison(parse_run_specs(args.runs), args.out_dir, args.intersection))
        print(f"weam-report: wrote {args.out_dir}/summary.md, summary.json, comparison.png")

    return run_cli("weam-report", run)


if __name__ == "__main__":
    sys.exit(main())
