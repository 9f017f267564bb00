"""The demo and the objective comparison build their downstream task with flags weam-gettext-pairs accepts."""
import re
import shlex
import subprocess
from pathlib import Path

import pytest

from fairseq_weam.cli.gettext_pairs import build_parser

ROOT = Path(__file__).resolve().parents[1]
RECIPES = [ROOT / "examples" / "demo.sh", ROOT / "examples" / "pretrain" / "compare_objectives.sh"]


def gettext_pairs_calls(script: Path):
    """Each ``weam-gettext-pairs ...`` command of a script, continuation lines joined, variables replaced by
    their defaults (``NAME="${NAME:-default}"``) or, without one, by their name."""
    text = script.read_text()
    defaults = dict(re.findall(r'^(\w+)="\$\{\1:-([^}]*)\}"', text, re.M))
    lines = text.replace("\\\n", " ").splitlines()
    return [shlex.split(re.sub(r"\$\{?(\w+)\}?", lambda v: defaults.get(v.group(1), v.group(1)), m.group(1)))
            for line in lines if not line.lstrip().startswith("#")
            for m in re.finditer(r"weam-gettext-pairs (.*)", line)]


@pytest.mark.parametrize("script", RECIPES, ids=lambda p: p.name)
def test_recipe_builds_the_shared_term_task_with_random_negatives(script):
    subprocess.run(["bash", "-n", str(script)], check=True)
    calls = gettext_pairs_calls(script)
    assert len(calls) == 1, calls
    args = build_parser().parse_args(calls[0])
    assert (args.label, args.negatives) == ("shared_term", "random")
