"""``make bench`` section: ``weam-prepare`` against the aligner alone at large sizes, with peak RSS.

The corpus is the built-in gettext corpus (en-de and en-fr from the machine's catalogs, every unique
pair) with its training lines repeated until each pair has ``size / 2`` of them; the valid sets are
kept as they are. The overhead is ``(wall of weam-prepare - eflomal alone) / eflomal alone``, eflomal
alone running on the very words the pipeline gave it (all splits of a pair in one run, as the align
stage does). Peak RSS is the largest sampled sum of the proportional set sizes of the whole process tree.
Each size runs ``--prepare-rounds`` rounds, each the pipeline then eflomal alone, and reports the round of median
overhead (this host's speed for eflomal against the Python stages drifts from one run to the next).
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

from fairseq_weam.prepare.config import SPM_INPUT_SENTENCES

#: Target on the overhead over the aligner, by corpus size (pairs).
TARGETS = {200_000: 0.50, 1_000_000: 0.25}
PAIRS = ("en-de", "en-fr")


def add_arguments(parser):
    parser.add_argument("--prepare-sizes", type=int, nargs="+", default=sorted(TARGETS),
                        help="training pairs of each weam-prepare run (over both language pairs)")
    parser.add_argument("--prepare-workers", type=int, default=2, help="weam-prepare --workers")
    parser.add_argument("--prepare-vocab-size", type=int, default=8000, help="weam-prepare --vocab-size")
    parser.add_argument("--prepare-spm-input-sentence-size", type=int, default=0,
                        help="weam-prepare --spm-input-sentence-size (0: its default)")
    parser.add_argument("--prepare-rounds", type=int, default=3,
                        help="rounds per size, each weam-prepare then eflomal alone; the round of median overhead "
                             "is reported (a shared host's speed drifts between runs)")


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


def timed_tree(args, log_path, interval=0.5):
    """Run ``args``; return (seconds, peak PSS of its process tree in MiB, CPU seconds of the tree, samples), or
    raise with its output. ``samples``: ``(time.time(), PSS MiB)`` every ``interval`` seconds (reading a tree's PSS costs
    CPU: at 10 per second it took a quarter of a core from the run it measured); the CPU seconds (user + system) count the
    process and every descendant it waited for (its workers and the aligner)."""
    args = [str(a) for a in args]
    print("+ " + " ".join(args), flush=True)
    samples = []
    with open(log_path, "w", encoding="utf-8") as log:
        start = time.perf_counter()
        proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT)
        done = threading.Event()

        def poll():
            while not done.is_set():
                samples.append((time.time(), round(_tree_rss_kib(proc.pid) / 1024, 1)))
                done.wait(interval)

        poller = threading.Thread(target=poll, daemon=True)
        poller.start()
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        seconds = time.perf_counter() - start
        done.set()
        poller.join()
    if proc.returncode != 0:
        raise SystemExit(f"command failed ({proc.returncode}): {' '.join(args)}\n{Path(log_path).read_text()[-4000:]}")
    peak = max((mib for _, mib in samples), default=0.0)
    return seconds, peak, round(usage.ru_utime + usage.ru_stime, 1), samples


def _union_seconds(intervals) -> float:
    """Seconds covered by the union of ``(start, end)`` intervals."""
    total, reach = 0.0, None
    for a, b in sorted(intervals):
        if reach is None or a > reach:
            total, reach = total + b - a, b
        elif b > reach:
            total, reach = total + b - reach, b
    return total


def timeline_figures(report: dict, samples) -> dict:
    """From the report's timeline (stages and align steps) and the PSS samples: the aligner's own seconds, the
    seconds the pipeline spent outside the aligner, what ran while an aligner ran, and each entry's peak PSS."""
    timeline = report.get("timeline", [])
    aligner = [(a, b) for name, a, b in timeline if name.startswith("aligner:")]
    overlapped = {}
    for name, a, b in timeline:
        if name.startswith("aligner:"):
            continue
        both = _union_seconds([(max(a, x), min(b, y)) for x, y in aligner if min(b, y) > max(a, x)])
        if both > 0.05:
            overlapped[name] = round(both, 2)
    peak = {}
    for name, a, b in timeline:
        inside = [mib for t, mib in samples if a <= t <= b]
        if inside:
            peak[name] = max(inside)
    first = min((a for a, _ in aligner), default=None)
    last = max((b for _, b in aligner), default=None)
    span = [(a, b) for _, a, b in timeline]
    return {"aligner_seconds": round(_union_seconds(aligner), 2),
            "before_first_aligner_seconds": round(first - min(a for a, _ in span), 2) if aligner else None,
            "after_last_aligner_seconds": round(max(b for _, b in span) - last, 2) if aligner else None,
            "timeline_seconds": round(max(b for _, b in span) - min(a for a, _ in span), 2) if span else None,
            "aligner_steps": {name: round(b - a, 2) for name, a, b in timeline if name.startswith("aligner:")},
            "overlapped_with_aligner": overlapped, "peak_pss_mib_by_step": peak}


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


def aligner_alone(data: Path, words_dir: Path, log_dir: Path, aligner_input: str = "pieces"):
    """eflomal on the words the pipeline's aligner read, per pair: (seconds, largest peak PSS in MiB, CPU seconds).

    Those are the ``▁``-words of the pieces (``--aligner-input pieces``) or of the normalized cleaned text of every
    cleaned pair (``text``), remade here the same way."""
    from fairseq_weam.align.eflomal_backend import eflomal_binary
    from fairseq_weam.prepare.piece_alignment import TRAINED_NORMALIZATION, _normalizer, text_words_line
    from fairseq_weam.text.pieces import words_from_pieces

    words_dir.mkdir(parents=True, exist_ok=True)
    work = data / ".work"
    normalize = _normalizer(f"rule:{TRAINED_NORMALIZATION}").normalize
    seconds, peak, cpu = 0.0, 0.0, 0.0
    for pair in PAIRS:
        l1, l2 = pair.split("-")
        for lang in (l1, l2):
            with open(words_dir / f"{pair}.{lang}", "w", encoding="utf-8") as f:
                for split in ("train", "valid"):
                    if aligner_input == "text":
                        for line in open(work / "clean" / f"{split}.{pair}.{lang}", encoding="utf-8"):
                            f.write(text_words_line(normalize(line.rstrip("\n"))) + "\n")
                    else:
                        for line in open(work / "pieces" / f"{split}.{pair}.{lang}", encoding="utf-8"):
                            f.write(" ".join(words_from_pieces(line.split())) + "\n")
        s, rss, c, _ = timed_tree([eflomal_binary(), "-s", words_dir / f"{pair}.{l1}", "-t", words_dir / f"{pair}.{l2}",
                             "-f", words_dir / f"{pair}.fwd", "-r", words_dir / f"{pair}.rev", "--overwrite"],
                            log_dir / f"eflomal.{pair}.log")
        seconds, peak, cpu = seconds + s, max(peak, rss), cpu + c
    return seconds, peak, round(cpu, 1)


def _round(args, where: Path, raw: Path, data: Path, size: int) -> dict:
    """One weam-prepare run from scratch, then eflomal alone on the words it aligned: the figures of the round."""
    shutil.rmtree(data, ignore_errors=True)
    load_before = os.getloadavg()[0]
    extra = ["--spm-input-sentence-size", args.prepare_spm_input_sentence_size] \
        if args.prepare_spm_input_sentence_size else []
    wall, rss, cpu, samples = timed_tree([tool("weam-prepare"), "--raw-dir", raw, "--dest-dir", data, "--vocab-size",
                                          args.prepare_vocab_size, "--workers", args.prepare_workers, *extra],
                                         where / "prepare.log")
    report = json.loads((data / "prep_report.json").read_text(encoding="utf-8"))
    steps = timeline_figures(report, samples)
    aligner_input = report["settings"].get("aligner_input", "pieces")
    aligner, aligner_rss, aligner_cpu = aligner_alone(data, where / "aligner_alone", where, aligner_input)
    overhead = (wall - aligner) / aligner
    target = TARGETS.get(size)
    return {
        "pairs_out": sum(s["pairs_out"] for splits in report["pairs"].values() for s in splits.values()),
        "wall_seconds": round(wall, 1), "aligner_alone_seconds": round(aligner, 1),
        "overhead_over_aligner": round(overhead, 3),
        "stage_seconds": {k: round(v["seconds"], 2) for k, v in report["stages"].items()},
        "peak_rss_mib": rss, "aligner_alone_peak_rss_mib": aligner_rss, "cpu_seconds": cpu,
        "aligner_alone_cpu_seconds": aligner_cpu,
        "load_average_before": round(load_before, 2), "load_average_after": round(os.getloadavg()[0], 2),
        "spm_input_sentence_size": args.prepare_spm_input_sentence_size or "default",
        "aligner_input": aligner_input, "cores": os.cpu_count(),
        "outside_aligner_seconds": round(wall - steps["aligner_seconds"], 1), **steps,
        "raw_text_mib": round(sum(p.stat().st_size for p in raw.iterdir()) / 2**20, 1),
        "target": target, "met": None if target is None else overhead <= target,
    }


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
        rounds = [_round(args, where, raw, data, size) for _ in range(max(1, args.prepare_rounds))]
        ranked = sorted(rounds, key=lambda r: r["overhead_over_aligner"])
        results["sizes"][str(size)] = dict(ranked[(len(ranked) - 1) // 2], rounds=[
            {k: r[k] for k in ("wall_seconds", "aligner_alone_seconds", "overhead_over_aligner", "cpu_seconds",
                               "aligner_alone_cpu_seconds")} for r in rounds])
        if size > 200_000:
            for path in (data, raw):  # large: keep the disk free
                shutil.rmtree(path, ignore_errors=True)
    return results


def _outside_parts(r: dict) -> tuple:
    """Seconds outside the aligner: (start-up and exit, before the first aligner, after the last, between runs)."""
    start_exit = round(r["wall_seconds"] - r["timeline_seconds"], 1)
    before, after = r["before_first_aligner_seconds"], r["after_last_aligner_seconds"]
    return start_exit, before, after, round(r["outside_aligner_seconds"] - start_exit - before - after, 1)


def markdown(result: dict) -> list:
    lines = ["## 2. Data preparation at scale: weam-prepare against the aligner alone", "",
             f"Corpus: {result['corpus']}; `--workers {result['workers']}`. Overhead = (weam-prepare wall - "
             "eflomal alone on the same words) / eflomal alone. Peak RSS: the largest sampled sum of the "
             "proportional set sizes (PSS) of the weam-prepare process tree (the pipeline, its worker pool and the "
             "aligner; pages shared by forked workers count once). CPU: user + system seconds of the whole tree. "
             "The aligner of a pair runs in the background while other pairs encode, write words, project and "
             "binarize; `outside the aligner` is the wall time no aligner ran."
             + (f" Each size ran {len(next(iter(result['sizes'].values()))['rounds'])} rounds (weam-prepare from "
                "scratch, then eflomal alone): the table shows the round of median overhead, every round is listed "
                "below it." if result["sizes"] and "rounds" in next(iter(result["sizes"].values())) else ""), "",
             "| training pairs | pairs out | raw text (MiB) | weam-prepare (s) | eflomal alone (s) | overhead | "
             "target | outside the aligner (s) | CPU weam-prepare / eflomal alone (s) | "
             "peak RSS weam-prepare (MiB) | peak RSS eflomal alone (MiB) | load average |",
             "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for size, r in result["sizes"].items():
        verdict = "—" if r["target"] is None else f"<= {100 * r['target']:.0f} %: {'met' if r['met'] else 'MISSED'}"
        lines.append(f"| {size} | {r['pairs_out']} | {r['raw_text_mib']} | {r['wall_seconds']} | "
                     f"{r['aligner_alone_seconds']} | {100 * r['overhead_over_aligner']:.0f} % | {verdict} | "
                     f"{r.get('outside_aligner_seconds', '')} | {r.get('cpu_seconds', '')} / "
                     f"{r.get('aligner_alone_cpu_seconds', '')} | {r['peak_rss_mib']} | "
                     f"{r['aligner_alone_peak_rss_mib']} | {r.get('load_average_before', '')} -> "
                     f"{r.get('load_average_after', '')} |")
    lines.append("")
    for size, r in result["sizes"].items():
        wall, alone = r["wall_seconds"], r["aligner_alone_seconds"]
        if r["target"] is not None:
            lines.append(f"- {size} pairs: overhead = ({wall} - {alone}) / {alone} = "
                         f"{100 * (wall - alone) / alone:.0f} % against <= {100 * r['target']:.0f} %: "
                         f"{'met' if r['met'] else 'MISSED'} (met needs weam-prepare <= "
                         f"{round(alone * (1 + r['target']), 1)} s).")
        if len(r.get("rounds", [])) > 1:
            lines.append(f"- {size} pairs, every round (weam-prepare / eflomal alone): "
                         + "; ".join(f"{k}: {x['wall_seconds']} / {x['aligner_alone_seconds']} s "
                                     f"({100 * x['overhead_over_aligner']:.0f} %, CPU {x['cpu_seconds']} / "
                                     f"{x['aligner_alone_cpu_seconds']} s)" for k, x in enumerate(r["rounds"], 1)) + ".")
        lines.append(f"- {size} pairs, by stage (s): "
                     + ", ".join(f"{k} {v}" for k, v in r["stage_seconds"].items()))
        if r.get("before_first_aligner_seconds") is not None:
            start_exit, before, after, gaps = _outside_parts(r)
            lines.append(f"- {size} pairs, outside the aligner ({r['outside_aligner_seconds']} s): start-up and exit "
                         f"{start_exit} s, before the first aligner {before} s, after the last {after} s, between "
                         f"aligner runs {gaps} s; the aligners ran {r['aligner_seconds']} s inside the pipeline "
                         f"against {r['aligner_alone_seconds']} s alone.")
        if "aligner_steps" in r:
            lines.append(f"- {size} pairs, the aligner's own runs (s): "
                         + ", ".join(f"{k} {v}" for k, v in r["aligner_steps"].items())
                         + f"; run while an aligner ran (s): "
                         + (", ".join(f"{k} {v}" for k, v in r["overlapped_with_aligner"].items()) or "nothing"))
            lines.append(f"- {size} pairs, peak PSS by stage and align step (MiB): "
                         + ", ".join(f"{k} {v}" for k, v in r["peak_pss_mib_by_step"].items()))
    lines.append("")
    peaks = {size: r["peak_pss_mib_by_step"] for size, r in result["sizes"].items() if r.get("peak_pss_mib_by_step")}
    if peaks:
        def others(by_step):  # the stages from encoding on (the aligner's own steps may overlap sentencepiece)
            later = ("encode:", "dict", "unk:", "align:", "project:", "binarize:")
            return max((v for k, v in by_step.items() if k.startswith(later)), default="-")

        lines += ["Memory. Sentencepiece training holds its sample, at most `--spm-input-sentence-size` sentences "
                  f"(default {SPM_INPUT_SENTENCES:,}), so its peak grows with the corpus only up to that cap; with `--aligner-input text` "
                  "the first aligner (which holds its pair's words) runs beside it, and the peak of that step counts "
                  "both: "
                  + ", ".join(f"{by_step.get('sentencepiece', '-')} MiB at {size} pairs" for size, by_step in peaks.items())
                  + ". Every later stage streams its text in chunks; their largest peak (with an aligner and the "
                  "worker pool beside them): "
                  + ", ".join(f"{others(by_step)} MiB at {size} pairs" for size, by_step in peaks.items()) + ".", ""]
    for size, r in result["sizes"].items():
        if r["target"] is None or r["met"] or r.get("before_first_aligner_seconds") is None:
            continue
        alone = r["aligner_alone_seconds"]
        start_exit, before, after, gaps = _outside_parts(r)
        spm = r["stage_seconds"].get("sentencepiece", 0)
        reads_text = r.get("aligner_input") == "text"
        first_input = ("cleaning and writing the first pair's words from the normalized text: with "
                       "`--aligner-input text` the aligners run while sentencepiece trains"
                       if reads_text else f"cleaning, sentencepiece training {spm} s, encoding and writing the words "
                                          f"of the first pair")
        text = (f"Why {size} pairs miss: the overhead is the {r['outside_aligner_seconds']} s in which no aligner "
                f"ran ({100 * r['outside_aligner_seconds'] / alone:.0f} % of eflomal alone) plus the aligners' own "
                f"runs inside the pipeline against alone ({r['aligner_seconds']} s against {alone} s, sharing the "
                f"cores with the other stages). Outside the aligner: {start_exit} s start-up and exit (the process "
                f"imports fairseq, whose Dictionary and Binarizer the stages use), {before} s before the first "
                f"aligner starts ({first_input}: the aligner's input), {after} s after the last aligner ends "
                f"(projecting and binarizing the pairs whose links came last: its output), {gaps} s between aligner "
                f"runs.")
        if r.get("cores") and r.get("cpu_seconds"):
            floor = r["cpu_seconds"] / r["cores"]
            text += (f" The cores bound it as well: the process tree used {r['cpu_seconds']} CPU seconds on "
                     f"{r['cores']} cores, so no schedule of these stages ends before {r['cpu_seconds']} / "
                     f"{r['cores']} = {floor:.1f} s, {100 * (floor - alone) / alone:.0f} % over eflomal alone: "
                     f"besides the aligner's {r['aligner_alone_cpu_seconds']} s, cleaning, sentencepiece, encoding, "
                     f"projection and binarization cost {r['cpu_seconds'] - r['aligner_alone_cpu_seconds']:.1f} CPU "
                     f"seconds, which share the cores with it; the target needs them at most "
                     f"{alone * (1 + r['target']) * r['cores'] - r['aligner_alone_cpu_seconds']:.1f} s.")
            if floor <= alone * (1 + r["target"]):
                text += (f" So the cores leave room for the target; the schedule's ends do not: the {after} s after "
                         f"the last aligner project the links that come last (and what is left of the pair before "
                         f"it), work no earlier stage can take over, on top of {start_exit + before:.1f} s of "
                         f"start-up, exit and the first aligner's input.")
            else:
                need = r["cpu_seconds"] - alone * (1 + r["target"]) * r["cores"]
                text += (f" So in this run the CPU alone keeps the pipeline above the target: the stages besides the "
                         f"aligner would need {need:.1f} CPU seconds less on {r['cores']} cores (the ratio depends "
                         f"on how fast this host runs eflomal against Python: compare the CPU column across runs).")
        lines += [text, ""]
    return lines
