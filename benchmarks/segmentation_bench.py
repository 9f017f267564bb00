"""Word segmentation before alignment for Chinese and Japanese: alignment figures with it off and on.

The built-in gettext corpus (en-zh_CN and en-ja) is prepared twice from the same RAW text with the same
flags, ``--word-segmentation off`` (``▁``-words) and ``auto`` (jieba for zh_CN, fugashi + unidic-lite for ja).
From each ``prep_report.json``, per language: words per sentence, word links per word, the share of words
with at least one link, segmenter boundaries that fell inside pieces, and the align stage's seconds.
Standalone: ``python benchmarks/segmentation_bench.py --out DIR`` (prints the markdown section).
"""
import argparse
import json
from pathlib import Path

from bench import gettext_data, run, tool

PAIRS = "en-zh_CN,en-ja"
LANGS = ("zh_CN", "ja")
FIGURES = ("words_per_sentence", "links_per_word", "aligned_word_share", "boundaries_inside_pieces")


def add_arguments(parser):
    parser.add_argument("--segmentation-bench-pairs", type=int, default=10000,
                        help="cap on gettext pairs per language (train + valid) of the segmentation benchmark")
    parser.add_argument("--segmentation-bench-vocab", type=int, default=8000,
                        help="sentencepiece vocabulary trained for the segmentation benchmark")


def _figures(data: Path) -> dict:
    report = json.loads((data / "prep_report.json").read_text(encoding="utf-8"))
    align_seconds = sum(s["seconds"] for name, s in report["stages"].items() if name.startswith("align:"))
    return {"languages": report["languages"], "align_seconds": round(align_seconds, 1),
            "pairs_out": sum(s["pairs_out"] for splits in report["pairs"].values() for s in splits.values())}


def bench(args, out: Path) -> dict:
    base = out / "segmentation"
    data_on, _ = gettext_data(base, PAIRS, args.segmentation_bench_pairs, args.segmentation_bench_vocab, 2, fresh=True)
    data_off = base / "data-off"
    run([tool("weam-prepare"), "--raw-dir", base / "raw", "--dest-dir", data_off, "--vocab-size",
         args.segmentation_bench_vocab, "--workers", 2, "--word-segmentation", "off"],
        log_path=base / "prepare-off.log")
    off, on = _figures(data_off), _figures(data_on)
    result = {"pairs_out": on["pairs_out"], "align_seconds": {"off": off["align_seconds"], "on": on["align_seconds"]},
              "languages": {}}
    for lang in LANGS + ("en",):
        result["languages"][lang] = {
            "segmenter": on["languages"][lang]["segmenter"],
            "space_words_per_sentence": off["languages"][lang]["space_words_per_sentence"],
            **{f"{name}_{mode}": figures["languages"][lang][name]
               for name in FIGURES for mode, figures in (("off", off), ("on", on))},
        }
    result["met"] = all(result["languages"][lang]["links_per_word_on"] < result["languages"][lang]["links_per_word_off"]
                        for lang in LANGS)
    result["target"] = "zh/ja word links per word lower with segmentation than without (aligner words nearer 1:1)"
    return result


def markdown(result: dict) -> list:
    lines = ["## 4. Word segmentation before alignment (zh, ja)", "",
             f"Built-in gettext corpus, en-zh_CN and en-ja, {result['pairs_out']} pairs, prepared twice from the same "
             "text: `--word-segmentation off` (`▁`-words) and `auto` (jieba; fugashi + unidic-lite). English is "
             "never segmented (its figures change only through the other side).", "",
             "| language | segmenter | words/sentence off → on | links/word off → on | aligned words off → on "
             "| boundaries inside pieces |", "|---|---|---|---|---|---|"]
    for lang, f in result["languages"].items():
        lines.append(
            f"| {lang} | {f['segmenter'] or '-'} | {f['words_per_sentence_off']} → {f['words_per_sentence_on']} "
            f"| {f['links_per_word_off']} → {f['links_per_word_on']} "
            f"| {100 * f['aligned_word_share_off']:.1f}% → {100 * f['aligned_word_share_on']:.1f}% "
            f"| {f['boundaries_inside_pieces_on']} |")
    seconds = result["align_seconds"]
    lines += ["", f"Align stages (segmentation included): {seconds['off']} s off, {seconds['on']} s on.",
              f"Target: {result['target']}: **{'met' if result['met'] else 'MISSED'}**.", ""]
    return lines


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, required=True)
    add_arguments(parser)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    result = bench(args, args.out)
    (args.out / "segmentation.json").write_text(json.dumps(result, indent=1), encoding="utf-8")
    print("\n".join(markdown(result)))


if __name__ == "__main__":
    main()
