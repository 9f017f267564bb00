"""fairseq-weam: a fairseq plugin (``--user-dir fairseq_weam``).

fairseq itself is not listed: the Python-3.11 build used here (``ve-fairseq``) declares torchaudio,
which drags in a multi-GB CUDA torch. ``make install`` installs it with ``--no-deps`` after torch and
the requirements below; see README.md.
"""
from pathlib import Path

from setuptools import find_packages, setup

requirements = [
    line.split("#")[0].strip()
    for line in Path(__file__).with_name("requirements.txt").read_text().splitlines()
    if line.split("#")[0].strip() and not line.startswith("pytest")
]

setup(
    name="fairseq-weam",
    version="0.1.0",
    description="WEAM pre-training and robust fine-tuning for zero-shot cross-lingual transfer, as a fairseq plugin",
    long_description=Path(__file__).with_name("README.md").read_text(encoding="utf-8"),
    long_description_content_type="text/markdown",
    python_requires=">=3.10",
    packages=find_packages(include=["fairseq_weam", "fairseq_weam.*"]),
    package_data={"fairseq_weam": ["xtreme/*.tsv", "robust/*.json"]},
    install_requires=["torch>=2.1"] + requirements,
    extras_require={"test": ["pytest", "pytest-xdist"], "align": ["eflomal>=2.0"]},
    entry_points={
        "console_scripts": [
            "weam-prepare = fairseq_weam.cli.prepare:main",
            "weam-gettext-bitext = fairseq_weam.cli.gettext_bitext:main",
            "weam-retrieval = fairseq_weam.cli.retrieval:main",
            "weam-xtreme-prepare = fairseq_weam.cli.xtreme_prepare:main",
            "weam-augment = fairseq_weam.cli.augment:main",
            "weam-evaluate = fairseq_weam.cli.evaluate:main",
            "weam-gettext-pairs = fairseq_weam.cli.gettext_pairs:main",
            "weam-report = fairseq_weam.cli.report:main",
            "weam-checkpoint-globals = fairseq_weam.cli.checkpoint_globals:main",
            "weam-xtreme-score = fairseq_weam.cli.xtreme_score:main",
            "weam-synthesize = fairseq_weam.cli.synthesize:main",
            "weam-experiment = fairseq_weam.cli.experiment:main",
            "weam-alignment-stability = fairseq_weam.cli.alignment_stability:main",
            "weam-convert = fairseq_weam.cli.convert:main",
            "weam-translate = fairseq_weam.cli.translate:main",
        ]
    },
)
