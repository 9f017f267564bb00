"""weam-report: one table (mean ± std over seeds) and one plot from several weam-evaluate runs.

    weam-report weam+none=runs/a/eval/results.json weam+none=runs/b/eval/results.json \
                tlm+none=runs/c/eval/results.json --out-dir report

Runs that share a label are seeds of one system. Writes summary.md, summary.json and comparison.png.
Every run must cover the same test languages; --intersection reports on the languages all runs share
instead (said in the table). The "majority" row is the majority-class accuracy of the gold labels.

    weam-report --xtreme weam=runs/xnli/eval/results.json weam=runs/panx/eval/results.json ... --out-dir report

With --xtreme, the runs of a label are its tasks (a task repeated: seeds): the XTREME-R (or --version xtreme)
score table, scored again from each run's predictions and labels files as the official scorer does, and the
tables by language family and by script. Writes xtreme_score.md and xtreme_score.json.
"""
import argparse
import sys

from fairseq_weam.cli.entry import run_cli
from fairseq_weam.evaluation.comparison import parse_run_specs, write_comparison
from fairseq_weam.evaluation.xtreme_report import write_xtreme_report
from fairseq_weam.xtreme.benchmark import VERSIONS


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("runs", nargs="+", metavar="LABEL=RESULTS_JSON",
                        help="a weam-evaluate results.json, labelled; repeat a label for several seeds")
    parser.add_argument("--out-dir", required=True, help="where summary.md, summary.json, comparison.png go")
    parser.add_argument("--intersection", action="store_true",
                        help="when runs cover different languages, report on the languages all share "
                             "(default: refuse)")
    parser.add_argument("--xtreme", action="store_true",
                        help="the benchmark score of each label's task runs, and tables by language family "
                             "and script")
    parser.add_argument("--version", default="xtreme-r", choices=VERSIONS,
                        help="with --xtreme: the benchmark whose tasks, languages and groups decide the score")
    args = parser.parse_args(argv)

    def run():
        if args.xtreme:
            print(write_xtreme_report(parse_run_specs(args.runs), args.out_dir, args.version,
                                      note=lambda message: print(f"weam-report: note: {message}",
                                                                 file=sys.stderr)))
            print(f"weam-report: wrote {args.out_dir}/xtreme_score.md, xtreme_score.json")
            return
        print(write_comparison(parse_run_specs(args.runs), args.out_dir, args.intersection))
        print(f"weam-report: wrote {args.out_dir}/summary.md, summary.json, comparison.png")

    return run_cli("weam-report", run)


if __name__ == "__main__":
    sys.exit(main())
