"""The preparation report: ``prep_report.json`` for machines and ``prep_report.txt`` for people."""
import json
from collections import Counter
from pathlib import Path
from typing import Dict, List, Sequence

from fairseq_weam.atomic import write_text_atomic

DROP_REASONS = ("bad_utf8", "empty", "too_long_chars", "too_long_pieces", "length_ratio", "word_count", "bad_link")


def word_figures(counts: Dict, sentences: int) -> Dict:
    """Aligner-word figures of one language: words per sentence (and the ``▁``-words they came from), word
    links per word, the share of words with at least one link, segmenter boundaries that fell inside pieces."""
    words = max(counts["words"], 1)
    return {
        "segmenter": counts["segmenter"],
        "words_per_sentence": round(counts["words"] / max(sentences, 1), 3),
        "space_words_per_sentence": round(counts["space_words"] / max(sentences, 1), 3),
        "links_per_word": round(counts["word_links"] / words, 4),
        "aligned_word_share": round(counts["linked_words"] / words, 4),
        "boundaries_inside_pieces": counts.get("inside_pieces", 0),
    }


def build_report(pairs: List[str], results: Dict[str, Dict], vocab_size: int, settings: Dict = None,
                 steps: Sequence = ()) -> Dict:
    """Collect per-pair figures from the stage records (``results`` of :class:`StageRunner`).

    ``timeline``: ``[name, start, end]`` wall-clock seconds (``time.time()``) of the stages that ran now and of
    the align stages' ``steps`` (``(name, start, end)``: words, aligner, atools, project), by start.
    """
    report = {"vocab_size": vocab_size, "settings": settings or {}, "pairs": {}, "languages": {}, "stages": {}}
    totals = {}  # language -> summed word counts over every pair and split it is in
    timeline = [[name, r["started"], r["started"] + r["seconds"]] for name, r in results.items() if "started" in r]
    report["timeline"] = sorted(timeline + [[name, a, b] for name, a, b in steps], key=lambda row: row[1])
    for name, result in results.items():
        report["stages"][name] = {"seconds": result["seconds"], "status": result["status"]}
    for pair in pairs:
        clean = results[f"clean:{pair}"]["stats"]
        encode = results[f"encode:{pair}"]["stats"]
        align = results[f"align:{pair}"]["stats"]
        unknown = results[f"unk:{pair}"]["stats"]
        entry = {}
        for split in clean:
            drops = {r: clean[split].get(r, 0) + encode[split].get(r, 0) for r in DROP_REASONS}
            a = align[split]
            entry[split] = {
                "pairs_in": clean[split].get("in", 0),
                "pairs_out": encode[split].get("out", 0),
                "drops": {r: n for r, n in drops.items() if n},
                "links": a["links"],
                "links_per_sentence": round(a["links"] / max(a["sentences"], 1), 3),
                "links_per_piece_pair": round(a["links"] / max(a["piece_pairs"], 1), 4),
                "aligned_share_src": round(a["src_aligned"] / max(a["src_pieces"], 1), 4),
                "aligned_share_tgt": round(a["tgt_aligned"] / max(a["tgt_pieces"], 1), 4),
                "pieces_src": a["src_pieces"],
                "pieces_tgt": a["tgt_pieces"],
                "words_changed": a.get("words_changed", 0),
                "unk_share": {lang: round(unknown[split][lang]["unk"] / max(unknown[split][lang]["pieces"], 1), 4)
                              for lang in pair.split("-")},  # source first (the record's keys are sorted)
                "words": {lang: word_figures(a["words"][lang], a["sentences"]) for lang in pair.split("-")},
            }
            for lang in pair.split("-"):
                total = totals.setdefault(lang, Counter())
                total.update({k: v for k, v in a["words"][lang].items() if k != "segmenter"}, sentences=a["sentences"])
                total["segmenter"] = a["words"][lang]["segmenter"]
        report["pairs"][pair] = entry
    report["languages"] = {lang: word_figures(t, t["sentences"]) for lang, t in sorted(totals.items())}
    return report


def report_lines(report: Dict) -> List[str]:
    lines = [f"weam-prepare: {len(report['pairs'])} pair(s), dictionary of {report['vocab_size']} pieces"]
    for pair, splits in report["pairs"].items():
        for split, r in splits.items():
            drops = ", ".join(f"{k} {v}" for k, v in r["drops"].items()) or "none"
            if r.get("words_changed"):
                drops += (f"; {r['words_changed']} pairs without links: the aligner's words of the text differ from "
                          f"those of the pieces")
            lines.append(
                f"{pair} {split}: {r['pairs_in']} -> {r['pairs_out']} pairs (dropped: {drops}); "
                f"{r['links_per_sentence']} links/sentence, {r['links_per_piece_pair']} links/piece pair, "
                f"aligned pieces {100 * r['aligned_share_src']:.1f}% / {100 * r['aligned_share_tgt']:.1f}%; "
                "<unk> " + " / ".join(f"{lang} {100 * share:.1f}%" for lang, share in r["unk_share"].items())
            )
    for lang, w in report.get("languages", {}).items():
        lines.append(
            f"{lang} words ({w['segmenter'] or 'by spaces'}): {w['words_per_sentence']}/sentence "
            f"(by spaces {w['space_words_per_sentence']}), {w['links_per_word']} links/word, "
            f"aligned words {100 * w['aligned_word_share']:.1f}%, "
            f"{w['boundaries_inside_pieces']} boundaries inside pieces"
        )
    times = ", ".join(
        f"{name} {s['seconds']:.1f}s" + (" (skipped now)" if s["status"] == "skipped" else "")
        for name, s in report["stages"].items()
    )
    lines.append(f"time per stage: {times}")
    return lines


def write_report(dest_dir, report: Dict) -> List[str]:
    dest_dir = Path(dest_dir)
    lines = report_lines(report)
    for name, text in (("prep_report.json", json.dumps(report, indent=1) + "\n"),
                       ("prep_report.txt", "\n".join(lines) + "\n")):
        write_text_atomic(dest_dir / name, text)
    return lines
