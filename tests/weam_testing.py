"""Helpers shared by the tests: running the project's and fairseq's command lines, tiny corpora."""
import random
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
USER_DIR = REPO / "fairseq_weam"
BIN = Path(sys.executable).parent

#: A tiny RoBERTa: enough to train in seconds on one CPU core.
TINY_ROBERTA = [
    "--arch", "roberta_base", "--encoder-layers", "1", "--encoder-embed-dim", "32",
    "--encoder-ffn-embed-dim", "64", "--encoder-attention-heads", "2", "--max-positions", "64",
]


def run(args, cwd=None, env=None, check=True, timeout=600):
    """Run a command; on failure raise with the tail of its output so the test log says why."""
    args = [str(a) for a in args]
    proc = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    if check and proc.returncode != 0:
        raise AssertionError(
            f"command failed ({proc.returncode}): {' '.join(args)}\n"
            f"--- stdout ---\n{proc.stdout[-4000:]}\n--- stderr ---\n{proc.stderr[-6000:]}"
        )
    return proc


def tool(name):
    """Path of a console script installed beside this Python (fairseq-train, weam-prepare, ...)."""
    return str(BIN / name)


def random_sentences(n, vocab_size=40, min_len=3, max_len=12, seed=0):
    rng = random.Random(seed)
    words = [f"w{i}" for i in range(vocab_size)]
    return [" ".join(rng.choice(words) for _ in range(rng.randint(min_len, max_len))) for _ in range(n)]


def write_lines(path, lines):
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path
