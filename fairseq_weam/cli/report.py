"""weam-report: one table (mean ± std over seeds) and one plot from several weam-evaluate runs.

    weam-report weam+none=runs/a/eval/results.json weam+none=runs/b/eval/results.json \
                tlm+none=runs/c/eval/results.json --out-dir report

Runs that share a label are seeds of one system. Writes summary.md, summary.json and comparison.png.
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
    args = parser.parse_args(argv)

    def run():
        print(write_comparison(parse_run_specs(args.runs), args.out_dir))
        print(f"weam-report: wrote {args.out_dir}/summary.md, summary.json, comparison.png")

    return run_cli("weam-report", run)


if __name__ == "__main__":
    sys.exit(main())
