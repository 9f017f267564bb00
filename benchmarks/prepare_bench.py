"""``make bench`` section: ``weam-prepare`` against the aligner alone at large sizes, with peak RSS.

The corpus is the built-in gettext corpus (en-de and en-fr from the machine's catalogs, every unique
pair) with its training lines repeated until each pair has ``size / 2`` of them; the valid sets are
kept as they are. The overhead is ``(wall of weam-prepare - eflomal alone) / eflomal alone``, eflomal
alone running on the very words the pipeline gave it (all splits of a pair in one run, as the align
stage does). Peak RSS is the largest sampled sum of the proportional set sizes of the whole process tree.
"""
import itertools
import json
import os
import shutil
import subprocess
import threading
import time
from pathlib import Path

from bench import run, tool

#: Target on the overhead over the aligner, by corpus size (pairs).
TARGETS = {200_000: 0.50, 1_000_000: 0.25}
PAIRS = ("en-de", "en-fr")


def add_arguments(parser):
    parser.add_argument("--prepare-sizes", type=int, nargs="+", default=sorted(TARGETS),
                        help="training pairs of each weam-prepare run (over both language pairs)")
    parser.add_argument("--prepare-workers", type=int, default=2, help="weam-prepare --workers")
    parser.add_argument("--prepare-vocab-size", type=int, default=8000, help="weam-prepare --vocab-size")


def _tree_rss_kib(root: int) -> int:
    """Resident KiB of ``root`` and every descendant (from /proc): proportional set sizes, so the pages forked
    workers share with their parent count once."""
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        try:
            with open(f"/proc/{pid}/smaps_rollup") as f:
                total += next((int(line.split()[1]) for line in f if line.startswith("Pss:")), 0)
            for task in os.listdir(f"/proc/{pid}/task"):
                with open(f"/proc/{pid}/task/{task}/children") as f:
                    todo += [int(c) for c in f.read().split()]
        except (FileNotFoundError, ProcessLookupError, StopIteration):
            continue
    return total


def timed_tree(args, log_path, interval=0.1):
    """Run ``args``; return (seconds, peak RSS of its process tree in MiB), or raise with its output."""
    args = [str(a) for a in args]
    print("+ " + " ".join(args), flush=True)
    peak = [0]
    with open(log_path, "w", encoding="utf-8") as log:
        start = time.perf_counter()
        proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT)
        done = threading.Event()

        def poll():
            while not done.is_set():
                peak[0] = max(peak[0], _tree_rss_kib(proc.pid))
                done.wait(interval)

        poller = threading.Thread(target=poll, daemon=True)
        poller.start()
        code = proc.wait()
        seconds = time.perf_counter() - start
        done.set()
        poller.join()
    if code != 0:
        raise SystemExit(f"command failed ({code}): {' '.join(args)}\n{Path(log_path).read_text()[-4000:]}")
    return seconds, round(peak[0] / 1024, 1)


def make_raw(base: Path, raw: Path, size: int):
    """RAW with ``size // 2`` training pairs per language pair: the gettext training lines, repeated."""
    if not base.exists():
        run([tool("weam-gettext-bitext"), "--pairs", ",".join(PAIRS), "--max-pairs", 10_000_000,
             "--valid-size", 500, "--out", base])
    if raw.exists():
        return
    tmp = raw.with_name(raw.name + ".tmp")
    tmp.mkdir(parents=True, exist_ok=True)
    for pair in PAIRS:
        for name in [f"valid.{pair}.{lang}" for lang in pair.split("-")]:
            (tmp / name).write_bytes((base / name).read_bytes())
        for lang in pair.split("-"):
            lines = (base / f"train.{pair}.{lang}").read_text(encoding="utf-8").splitlines(keepends=True)
            with open(tmp / f"train.{pair}.{lang}", "w", encoding="utf-8") as f:
                f.writelines(itertools.islice(itertools.cycle(lines), size // 2))
    tmp.rename(raw)


def aligner_alone(data: Path, words_dir: Path, log_dir: Path):
    """eflomal on the words of the pipeline's pieces, per pair: (seconds, largest peak RSS in MiB)."""
    from fairseq_weam.align.eflomal_backend import eflomal_binary
    from fairseq_weam.text.pieces import words_from_pieces

    words_dir.mkdir(parents=True, exist_ok=True)
    pieces = data / ".work" / "pieces"
    seconds, peak = 0.0, 0.0
    for pair in PAIRS:
        l1, l2 = pair.split("-")
        for lang in (l1, l2):
            with open(words_dir / f"{pair}.{lang}", "w", encoding="utf-8") as f:
                for split in ("train", "valid"):
                    for line in open(pieces / f"{split}.{pair}.{lang}", encoding="utf-8"):
                        f.write(" ".join(words_from_pieces(line.split())) + "\n")
        s, rss = timed_tree([eflomal_binary(), "-s", words_dir / f"{pair}.{l1}", "-t", words_dir / f"{pair}.{l2}",
                             "-f", words_dir / f"{pair}.fwd", "-r", words_dir / f"{pair}.rev", "--overwrite"],
                            log_dir / f"eflomal.{pair}.log")
        seconds, peak = seconds + s, max(peak, rss)
    return seconds, peak


def bench(args, out: Path) -> dict:
    base = out / "prepare_scale"
    base.mkdir(parents=True, exist_ok=True)
    results = {"corpus": "gettext en-de + en-fr (every unique pair), training lines repeated to the size",
               "workers": args.prepare_workers, "sizes": {}}
    for size in args.prepare_sizes:
        where = base / f"pairs_{size}"
        where.mkdir(exist_ok=True)
        raw, data = where / "raw", where / "data"
        make_raw(base / "gettext", raw, size)
        shutil.rmtree(data, ignore_errors=True)
        wall, rss = timed_tree([tool("weam-prepare"), "--raw-dir", raw, "--dest-dir", data, "--vocab-size",
                                args.prepare_vocab_size, "--workers", args.prepare_workers], where / "prepare.log")
        report = json.loads((data / "prep_report.json").read_text(encoding="utf-8"))
        aligner, aligner_rss = aligner_alone(data, where / "aligner_alone", where)
        overhead = (wall - aligner) / aligner
        target = TARGETS.get(size)
        results["sizes"][str(size)] = {
            "pairs_out": sum(s["pairs_out"] for splits in report["pairs"].values() for s in splits.values()),
            "wall_seconds": round(wall, 1), "aligner_alone_seconds": round(aligner, 1),
            "overhead_over_aligner": round(overhead, 3),
            "stage_seconds": {k: round(v["seconds"], 2) for k, v in report["stages"].items()},
            "peak_rss_mib": rss, "aligner_alone_peak_rss_mib": aligner_rss,
            "raw_text_mib": round(sum(p.stat().st_size for p in raw.iterdir()) / 2**20, 1),
            "target": target, "met": None if target is None else overhead <= target,
        }
        if size > 200_000:
            for path in (data, raw):  # large: keep the disk free
                shutil.rmtree(path)
    return results


def markdown(result: dict) -> list:
    lines = ["## 2. Data preparation at scale: weam-prepare against the aligner alone", "",
             f"Corpus: {result['corpus']}; `--workers {result['workers']}`. Overhead = (weam-prepare wall - "
             "eflomal alone on the same words) / eflomal alone. Peak RSS: the largest sampled sum of the "
             "proportional set sizes (PSS) of the weam-prepare process tree (the pipeline, its worker pool and the "
             "aligner; pages shared by forked workers count once).", "",
             "| training pairs | pairs out | raw text (MiB) | weam-prepare (s) | eflomal alone (s) | overhead | "
             "target | peak RSS weam-prepare (MiB) | peak RSS eflomal alone (MiB) |",
             "|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for size, r in result["sizes"].items():
        verdict = "—" if r["target"] is None else f"<= {100 * r['target']:.0f} %: {'met' if r['met'] else 'MISSED'}"
        lines.append(f"| {size} | {r['pairs_out']} | {r['raw_text_mib']} | {r['wall_seconds']} | "
                     f"{r['aligner_alone_seconds']} | {100 * r['overhead_over_aligner']:.0f} % | {verdict} | "
                     f"{r['peak_rss_mib']} | {r['aligner_alone_peak_rss_mib']} |")
    lines.append("")
    for size, r in result["sizes"].items():
        lines.append(f"- {size} pairs, by stage: " + ", ".join(f"{k} {v}s" for k, v in r["stage_seconds"].items()))
    lines.append("")
    return lines
