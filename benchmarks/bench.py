"""``make bench``: the speed and memory targets of fairseq-weam, each measured as a ratio in one run.

1. training throughput of ``--task weam`` (weam / tlm / mlm) against fairseq's ``--task masked_lm`` and the
   WEAM cost floor from the bench model's FLOP count (``throughput_bench.py``);
2. ``weam-prepare`` at 200k and 1M pairs against the aligner alone on the same words, with peak RSS
   (``prepare_bench.py``);
3. robust fine-tuning cost per update against ``none`` for noise and PGD with K = 1, 2, 3, with the floor of
   each in forward-pass units (``robust_bench.py``);
4. word segmentation of Chinese and Japanese before alignment: links per word and aligned share, off vs on
   (``segmentation_bench.py``);
5. peak RSS of pre-training data loading at 10k and 200k pairs (mmap: nearly flat; here).

Every figure is written to ``BENCHMARKS.md`` (and ``bench_out/results.json``) with the command, the
machine and the date. Sizes are flags, so the same script measures a bigger machine at real size.
``python benchmarks/bench.py SECTION ...`` runs some sections; ``report`` rewrites BENCHMARKS.md from
``bench_out/results.json`` alone.
"""
import argparse
import datetime
import json
import os
import platform
import re
import resource
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

# One thread per process (eflomal, torch, numpy), whoever starts the bench: the ratios compare single-threaded
# runs, and the processes the sections start inherit this.
os.environ.update(OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
USER_DIR = str(REPO / "fairseq_weam")


def tool(name):
    return str(BIN / name)


def run(args, log_path=None, env=None):
    args = [str(a) for a in args]
    print("+ " + " ".join(args), flush=True)
    start = time.perf_counter()
    proc = subprocess.run(args, capture_output=True, text=True, env=env)
    seconds = time.perf_counter() - start
    if log_path:
        Path(log_path).write_text(proc.stdout + proc.stderr, encoding="utf-8")
    if proc.returncode != 0:
        raise SystemExit(f"command failed ({proc.returncode}): {' '.join(args)}\n{(proc.stdout + proc.stderr)[-4000:]}")
    return proc.stdout + proc.stderr, seconds


def machine():
    cpu = "unknown CPU"
    try:
        for line in open("/proc/cpuinfo", encoding="utf-8"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    import torch

    return {
        "cpu": cpu, "cores": os.cpu_count(), "python": platform.python_version(), "torch": torch.__version__,
        "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        "date": datetime.date.today().isoformat(),
    }


# ---------------------------------------------------------------------------------------------- data
def gettext_data(out, pairs, max_pairs, vocab_size, workers, fresh=False):
    """RAW from the machine's gettext catalogs, then weam-prepare (from scratch when ``fresh``, else only
    the stages not done yet); returns (DATA dir, prepare seconds)."""
    raw, data = out / "raw", out / "data"
    if not raw.exists():
        run([tool("weam-gettext-bitext"), "--pairs", pairs, "--max-pairs", max_pairs, "--valid-size", 500,
             "--out", raw])
    if fresh:
        shutil.rmtree(data, ignore_errors=True)
    _, seconds = run([tool("weam-prepare"), "--raw-dir", raw, "--dest-dir", data, "--vocab-size", vocab_size,
                      "--workers", workers], log_path=out / "prepare.log")
    return data, seconds


def inner_wps(log):
    """Mean words/s of the ``train_inner`` log lines, the first (warm-up) interval left out."""
    values = [float(v) for v in re.findall(r"\| train_inner \|.*?wps[= ]([0-9.]+)", log)]
    if len(values) < 2:
        raise SystemExit("too few train_inner lines to measure throughput: raise --updates")
    return statistics.mean(values[1:]), len(values) - 1


def inner_seconds_per_update(log):
    """Seconds per update: 1 / fairseq's ``ups`` averaged over the train_inner intervals after the first
    (``train_wall`` is logged in whole seconds, too coarse for short intervals)."""
    ups = [float(v) for v in re.findall(r"\| train_inner \|.*?ups[= ]([0-9.]+)", log)]
    if len(ups) < 2:
        raise SystemExit("too few train_inner lines: raise --robust-updates")
    return 1.0 / statistics.mean(ups[1:])


# --------------------------------------------------------------------------------------- 5. memory
def replicate_data(source, dest, pairs_wanted):
    """A data dir of ``pairs_wanted`` training pairs made by repeating ``source``'s pieces and links."""
    from fairseq_weam.prepare.binarize import binarize_pair

    dest.mkdir(parents=True, exist_ok=True)
    pieces = source / ".work" / "pieces"
    text_dir = dest / "text"
    text_dir.mkdir(exist_ok=True)
    pair = ("en", "de")
    lines = {x: (pieces / f"train.en-de.{x}").read_text(encoding="utf-8").splitlines(keepends=True)
             for x in ("en", "de", "align")}
    for split, wanted in (("train", pairs_wanted), ("valid", 100)):
        for x, content in lines.items():
            repeated = (content * (wanted // len(content) + 1))[:wanted]
            (text_dir / f"{split}.en-de.{x}").write_text("".join(repeated), encoding="utf-8")
    names = [f"{s}.en-de.{x}.{e}" for s in ("train", "valid") for x in ("en", "de") for e in ("bin", "idx")]
    names += [f"{s}.align.en-de.{e}" for s in ("train", "valid") for e in ("bin", "idx")]
    binarize_pair(text_dir, pair, ["train", "valid"], source / "dict.txt", {n: dest / n for n in names}, workers=2)
    shutil.copyfile(source / "dict.txt", dest / "dict.txt")
    shutil.rmtree(text_dir)


def memory_worker(data):
    """Load the weam task's training data and collate every batch of one epoch; print the peak RSS (MiB)."""
    import fairseq_weam  # noqa: F401  (registers the task)
    from fairseq import tasks
    from fairseq.dataclass.utils import convert_namespace_to_omegaconf
    from fairseq import options

    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    parser = options.get_training_parser()
    ns = options.parse_args_and_arch(parser, [str(data), "--task", "weam", "--arch", "roberta_base",
                                              "--criterion", "weam", "--max-tokens", "8192", "--cpu"])
    cfg = convert_namespace_to_omegaconf(ns)
    task = tasks.setup_task(cfg.task)
    task.load_dataset("train")
    itr = task.get_batch_iterator(task.dataset("train"), max_tokens=8192, max_positions=512, seed=1,
                                  num_workers=0).next_epoch_itr(shuffle=True)
    batches = tokens = 0
    for batch in itr:
        batches += 1
        tokens += batch["ntokens"]
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"pairs": len(task.dataset("train")), "batches": batches, "tokens": tokens,
                      "rss_after_imports_mib": round(before, 1), "peak_rss_mib": round(peak, 1)}))


def bench_memory(args, out):
    base = out / "memory"
    source, _ = gettext_data(base, "en-de", 12000, 8000, 2)
    results = {}
    for n in args.memory_pairs:
        data = base / f"pairs_{n}"
        if not (data / "dict.txt").exists():
            replicate_data(source, data, n)
        log, _ = run([sys.executable, __file__, "memory-worker", data])
        results[str(n)] = json.loads([line for line in log.splitlines() if line.startswith("{")][-1])
    small, large = (results[str(n)] for n in args.memory_pairs)
    growth = large["peak_rss_mib"] - small["peak_rss_mib"]
    results["growth_mib"] = round(growth, 1)
    results["growth_ratio"] = round(large["peak_rss_mib"] / small["peak_rss_mib"], 3)
    return results


def memory_markdown(mem) -> list:
    lines = ["## 5. Peak RSS of pre-training data loading (one epoch of batches collated)", "",
             "| training pairs | batches | peak RSS (MiB) | RSS after imports (MiB) |", "|---:|---:|---:|---:|"]
    for v in mem.values():
        if isinstance(v, dict) and "pairs" in v:
            lines.append(f"| {v['pairs']} | {v['batches']} | {v['peak_rss_mib']} | {v['rss_after_imports_mib']} |")
    return lines + ["", f"Growth: {mem['growth_mib']} MiB ({mem['growth_ratio']}x).", ""]


# --------------------------------------------------------------------------------------- report
def sections():
    """name -> (bench(args, out) -> dict, markdown(result) -> lines, add_arguments(parser) or None), in report order."""
    import prepare_bench
    import robust_bench
    import segmentation_bench
    import throughput_bench

    return {
        "throughput": (throughput_bench.bench, throughput_bench.markdown, throughput_bench.add_arguments),
        "prepare": (prepare_bench.bench, prepare_bench.markdown, prepare_bench.add_arguments),
        "robust": (robust_bench.bench, robust_bench.markdown, robust_bench.add_arguments),
        "segmentation": (segmentation_bench.bench, segmentation_bench.markdown, segmentation_bench.add_arguments),
        "memory": (bench_memory, memory_markdown, None),
    }


def command_line():
    """How this process was started: ``make bench`` (BENCH_ARGS, if any) or the script's own command line."""
    if os.environ.get("MAKELEVEL"):
        return " ".join(["make bench"] + ([f"BENCH_ARGS='{os.environ['BENCH_ARGS']}'"] if os.environ.get("BENCH_ARGS") else []))
    return " ".join(["python benchmarks/bench.py", *map(_repo_relative, sys.argv[1:])])


def _repo_relative(arg: str) -> str:
    """A path argument inside the repository as the repository sees it (no machine's absolute paths recorded)."""
    path = Path(arg)
    if path.is_absolute() and path.resolve().is_relative_to(REPO.resolve()):
        return str(path.resolve().relative_to(REPO.resolve())) or "."
    return arg


def _markdown_sections(path) -> dict:
    """The numbered sections (``## N. ...`` up to the next ``## ``) of an existing BENCHMARKS.md, as lines."""
    found, current = {}, None
    if Path(path).exists():
        for line in Path(path).read_text(encoding="utf-8").splitlines():
            if line.startswith("## "):
                number = line[3:].split(".", 1)[0]
                current = found.setdefault(int(number), []) if number.isdigit() else None
            if current is not None:
                current.append(line)
    return {number: lines + [""] if lines[-1] != "" else lines for number, lines in found.items()}


def write_markdown(results, command, path):
    m = results["machine"]
    lines = ["# Benchmarks", "",
             f"Measured {m['date']} on {m['cpu']} ({m['cores']} cores), Python {m['python']}, torch {m['torch']}; "
             f"GPU: {m['gpu'] or 'none available on this machine'}.", "",
             f"Command: `{command}` (raw figures in `bench_out/results.json`, logs in `bench_out/`; a section "
             "re-run alone names its own command, start and machine at its end; a section without figures in "
             "`bench_out/` is kept as it was). Every "
             "process runs one thread (OMP_NUM_THREADS=1); each ratio compares runs made one after the other "
             "in the same conditions.", ""]
    kept = _markdown_sections(path)
    for number, (name, (_, markdown, _)) in enumerate(sections().items(), 1):
        if name in results:
            lines += list(markdown(results[name]))
            if lines[-1] != "":
                lines.append("")
            run_info = results[name].get("measured_by")
            if run_info:
                where = f" on {run_info['cpu']} ({run_info['cores']} cores)" if run_info.get("cpu") else ""
                lines += [f"_This section: `{run_info['command']}`, started {run_info['started']}{where}._", ""]
        elif number in kept:  # no figures in --out (a fresh checkout): the section stays as it was measured
            lines += kept[number]
    lines += ["## 6. GPU", ""]
    if m["gpu"]:
        lines += [f"GPU: {m['gpu']}.", ""]
    else:
        lines += ["No GPU was available to this run: no GPU figures (roberta_base-size WEAM and masked_lm in bf16: "
                  "words/s, model FLOP utilization, peak memory) are claimed.", ""]
    Path(path).write_text("\n".join(lines), encoding="utf-8")


def main():
    if len(sys.argv) > 2 and sys.argv[1] == "memory-worker":
        return memory_worker(sys.argv[2])
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    benches = sections()
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("which", nargs="*", default=list(benches), help=f"sections: {', '.join(benches)}, report")
    parser.add_argument("--out", type=Path, default=REPO / "bench_out")
    parser.add_argument("--markdown", type=Path, default=REPO / "BENCHMARKS.md")
    parser.add_argument("--layers", type=int, default=2)
    parser.add_argument("--dim", type=int, default=256)
    parser.add_argument("--max-tokens", type=int, default=4096)
    parser.add_argument("--log-interval", type=int, default=10)
    parser.add_argument("--memory-pairs", type=int, nargs=2, default=[10000, 200000])
    for _, _, add_arguments in benches.values():
        if add_arguments:
            add_arguments(parser)
    args = parser.parse_args()
    unknown = [w for w in args.which if w not in benches and w != "report"]
    if unknown:
        parser.error(f"unknown section(s) {', '.join(unknown)}: use {', '.join(benches)} or report")
    args.out.mkdir(parents=True, exist_ok=True)
    results_path = args.out / "results.json"
    results = json.loads(results_path.read_text()) if results_path.exists() else {}
    results["machine"] = machine()
    for name in args.which:
        if name == "report":  # rewrite BENCHMARKS.md from bench_out/results.json only
            continue
        print(f"=== benchmark: {name}", flush=True)
        started = datetime.datetime.now().isoformat(timespec="minutes")
        results[name] = benches[name][0](args, args.out)
        results[name]["measured_by"] = {"command": command_line(), "started": started,
                                        "cpu": results["machine"]["cpu"], "cores": results["machine"]["cores"]}
        results_path.write_text(json.dumps(results, indent=1), encoding="utf-8")
    write_markdown(results, "make bench", args.markdown)
    print(Path(args.markdown).read_text(encoding="utf-8"))


if __name__ == "__main__":
    main()
