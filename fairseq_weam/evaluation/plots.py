"""PNG plots for people: accuracy per language (clean and under attack) and the generalized heatmap."""
import logging
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

logging.getLogger("matplotlib").setLevel(logging.WARNING)


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
    ax.set_xticks(x, langs)
    ax.set_ylabel("accuracy (%)")
    ax.set_ylim(0, 100)
    ax.set_title("Zero-shot accuracy per language")
    ax.legend(fontsize="small")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


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
    fig.savefig(path, dpi=120)
    plt.close(fig)


def write_plots(results, out_dir):
    """Write the plots; return their paths."""
    out_dir = Path(out_dir)
    paths = [out_dir / "accuracy_per_language.png"]
    accuracy_bars(results, paths[0])
    if results.get("generalized"):
        paths.append(out_dir / "generalized_heatmap.png")
        generalized_heatmap(results["generalized"], paths[-1])
    return paths
