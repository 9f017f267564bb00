"""The demo and the objective comparison build their downstream task with flags weam-gettext-pairs accepts,
and the demo fine-tunes and evaluates with the task's own label set (the task folder's labels.txt)."""
import re
import shlex
import subprocess
from pathlib import Path

import pytest

from fairseq_weam.cli.gettext_pairs import build_parser

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "examples" / "demo.sh"
COMPARE = ROOT / "examples" / "pretrain" / "compare_objectives.sh"


def gettext_pairs_calls(script: Path):
    """Each ``weam-gettext-pairs ...`` command of a script, continuation lines joined, variables replaced by
    their defaults (``NAME="${NAME:-default}"``) or, without one, by their name."""
    text = script.read_text()
    defaults = dict(re.findall(r'^(\w+)="\$\{\1:-([^}]*)\}"', text, re.M))
    lines = text.replace("\\\n", " ").splitlines()
    return [shlex.split(re.sub(r"\$\{?(\w+)\}?", lambda v: defaults.get(v.group(1), v.group(1)), m.group(1)))
            for line in lines if not line.lstrip().startswith("#")
            for m in re.finditer(r"weam-gettext-pairs (.*)", line)]


def one_call(script):
    subprocess.run(["bash", "-n", str(script)], check=True)
    calls = gettext_pairs_calls(script)
    assert len(calls) == 1, calls
    return build_parser().parse_args(calls[0])


def test_demo_builds_the_program_task_and_passes_its_labels():
    args = one_call(DEMO)
    assert (args.label, args.max_programs) == ("program", 4)
    text = DEMO.read_text()
    assert text.count("TASK=labels TASK_DIR") == 2   # fine-tuning and evaluation; finetune.sh reads labels.txt
    assert "TASK=pawsx" not in text


def test_objective_comparison_builds_the_demos_program_task_and_passes_its_labels():
    args = one_call(COMPARE)
    assert (args.label, args.max_programs) == ("program", 4)
    text = COMPARE.read_text()
    assert text.count("TASK=labels TASK_DIR") == 2   # fine-tuning and evaluation; finetune.sh reads labels.txt
    assert "TASK=pawsx" not in text
