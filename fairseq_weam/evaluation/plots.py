"""PNG plots for people: accuracy per language (clean and under attack), the generalized heatmap, and the
comparison of systems over seeds. The one module that imports matplotlib.

The majority-class accuracy of the gold labels is drawn as a dashed segment over each language's bars.
"""
import logging
from pathlib import Path

# fairseq's text_to_speech task sets the root logger to DEBUG when fairseq loads its tasks; matplotlib
# logs at DEBUG while it is imported, so its level is set first.
for _name in ("matplotlib", "PIL"):
    logging.getLogger(_name).setLevel(logging.WARNING)

import matplotlib  # noqa: E402

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from fairseq_weam.atomic import atomic_path  # noqa: E402


def _save(fig, path):
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=120, format="png")
    plt.close(fig)


def majority_segments(ax, x, values):
    """A dashed black segment over each language's group of bars at its majority-class accuracy."""
    points = [(xi, v) for xi, v in zip(x, values) if v is not None and not np.isnan(v)]
    if points:
        xs, ys = np.array(points).T
        ax.hlines(ys, xs - 0.45, xs + 0.45, colors="k", linestyles="dashed", linewidth=1.2,
                  label="majority class", zorder=3)


def accuracy_bars(results, path):
    langs = results["languages"]
    series = [("clean", results["standard"])]
    for key, title in (("smoothed", "smoothed"), ("synonym_attack", "synonym attack"), ("pgd_attack", "PGD")):
        if results.get(key):
            series.append((title, results[key]))
    width = 0.8 / len(series)
    x = np.arange(len(langs))
    fig, ax = plt.subplots(figsize=(max(4, 0.8 * len(langs) + 2), 3.5))
    for i, (title, section) in enumerate(series):
        ax.bar(x + i * width - 0.4 + width / 2, [section["accuracy"].get(lang, np.nan) for lang in langs],
               width, label=title)
    majority = (results.get("majority_class") or {}).get("accuracy") or {}
    majority_segments(ax, x, [majority.get(lang) for lang in langs])
    ax.set_xticks(x, langs)
    ax.set_ylabel("accuracy (%)")
    ax.set_ylim(0, 100)
    ax.set_title("Zero-shot accuracy per language")
    ax.legend(fontsize="small")
    fig.tight_layout()
    _save(fig, path)


def generalized_heatmap(generalized, path):
    langs = generalized["languages"]
    grid = np.array([[generalized["accuracy"][a][b] for b in langs] for a in langs])
    fig, ax = plt.subplots(figsize=(0.6 * len(langs) + 2.5, 0.6 * len(langs) + 2))
    image = ax.imshow(grid, cmap="viridis")
    ax.set_xticks(range(len(langs)), langs)
    ax.set_yticks(range(len(langs)), langs)
    ax.set_xlabel("sentence2 language")
    ax.set_ylabel("sentence1 language")
    for i in range(len(langs)):
        for j in range(len(langs)):
            bright = grid[i, j] > np.nanmin(grid) + 0.6 * (np.nanmax(grid) - np.nanmin(grid) + 1e-9)
            ax.text(j, i, f"{grid[i, j]:.0f}", ha="center", va="center", color="k" if bright else "w", fontsize=8)
    fig.colorbar(image, ax=ax, label="accuracy (%)")
    ax.set_title("Generalized setting")
    fig.tight_layout()
    _save(fig, path)


def comparison_bars(summary, path, title=None):
    """Clean zero-shot accuracy per language (or per group of languages, named in ``title``), one bar per
    system, std over seeds as error bars."""
    langs, systems = summary["languages"], summary["systems"]
    width = 0.8 / max(len(systems), 1)
    x = np.arange(len(langs))
    fig, ax = plt.subplots(figsize=(max(5, 1.2 * len(langs) + 2), 3.8))
    for k, (label, s) in enumerate(systems.items()):
        means = [s["per_language"][lang][0] for lang in langs]
        stds = [s["per_language"][lang][1] for lang in langs]
        ax.bar(x + k * width - 0.4 + width / 2, means, width, yerr=stds, capsize=2, label=label)
    majority = (summary.get("majority_class") or {}).get("per_language") or {}
    majority_segments(ax, x, [majority[lang][0] if lang in majority else None for lang in langs])
    ax.set_xticks(x, langs)
    ax.set_ylabel("accuracy (%)")
    ax.set_ylim(0, 100)
    title = title or "Zero-shot accuracy per language (mean ± std over seeds)"
    if summary.get("intersection"):
        title += "\nINTERSECTION ONLY: languages some runs lack are left out"
    ax.set_title(title, fontsize="medium")
    ax.legend(fontsize="small", ncol=2)
    fig.tight_layout()
    _save(fig, path)


def write_plots(results, out_dir):
    """Write the plots; return their paths."""
    out_dir = Path(out_dir)
    paths = [out_dir / "accuracy_per_language.png"]
    accuracy_bars(results, paths[0])
    if results.get("generalized"):
        paths.append(out_dir / "generalized_heatmap.png")
        generalized_heatmap(results["generalized"], paths[-1])
    return paths


def robustness_curves(curves, path, title="Sentence retrieval under embedding-space PGD"):
    """Accuracy (%) against the attack radius, one line per system: ``curves`` is {label: (radii, means, stds)}
    (stds None or a list: error bars over seeds); radius 0 is the clean accuracy."""
    fig, ax = plt.subplots(figsize=(5.5, 3.8))
    for label, (radii, means, stds) in curves.items():
        ax.errorbar(radii, means, yerr=stds, marker="o", capsize=2, label=label)
    ax.set_xlabel("attack radius ε (PGD on the query's token embeddings)")
    ax.set_ylabel("top-1 accuracy (%)")
    ax.set_ylim(0, 100)
    ax.set_title(title, fontsize="medium")
    ax.legend(fontsize="small")
    fig.tight_layout()
    _save(fig, path)


def stability_curves(summary, radii, path):
    """Alignment stability: one panel per (perturbation, metric), one line per checkpoint label (mean over its
    runs, std band)."""
    attacks = [a for a in ("noise", "pgd") if any(a in s["curves"] for s in summary.values())]
    metrics = (("cosine", "linked-word cosine"), ("word_acc", "word retrieval"), ("sentence_acc", "sentence retrieval"))
    fig, axes = plt.subplots(len(attacks), len(metrics), figsize=(11, 3.2 * len(attacks)), squeeze=False)
    for row, attack in enumerate(attacks):
        for col, (metric, title) in enumerate(metrics):
            ax = axes[row][col]
            for label, s in summary.items():
                if attack in s["curves"]:
                    mean, std = (np.asarray(s["curves"][attack][metric][k]) for k in ("mean", "std"))
                    ax.plot(radii, mean, marker="o", markersize=3, label=label)
                    ax.fill_between(radii, mean - std, mean + std, alpha=0.2)
            ax.set_title(f"{title} ({'random noise' if attack == 'noise' else 'PGD'})", fontsize="medium")
            ax.set_xlabel("perturbation radius")
            ax.grid(alpha=0.3)
    axes[0][0].legend(fontsize="small")
    fig.tight_layout()
    _save(fig, path)
