"""Two gloo workers: rank 0 reads the checkpoint and broadcasts it, rank 1 unpickles it weights-only with the
allow-list. A resumed two-worker run logs the losses of one worker with --update-freq 2 from scratch; a
poisoned checkpoint_last.pt stops both workers with the one-line refusal."""
import os
import socket
import subprocess
import sys

import pytest
from test_weam_train import updates  # {num_updates: {key: value}} of a fairseq-train log
from weam_pair_data import make_aligned_data
from weam_testing import TINY_ROBERTA, USER_DIR, run, tool

from fairseq_weam.checkpoint_safety import TRUST_ENV

pytestmark = pytest.mark.slow

SYSTEM = f"{os.system.__module__}.{os.system.__name__}"
KEYS = ("loss", "ml_loss", "cl_loss", "ml_tokens", "cl_tokens")


@pytest.fixture(scope="module")
def ddp_data(tmp_path_factory):
    return make_aligned_data(tmp_path_factory.mktemp("safety_ddp"), n_train=96, n_valid=16)


def train_args(data, save_dir, max_update, *extra):
    return [tool("fairseq-train"), data, "--user-dir", USER_DIR, "--task", "weam", "--criterion", "weam",
            *TINY_ROBERTA, "--tokens-per-sample", "64", "--batch-size", "4", "--optimizer", "adam", "--lr", "1e-3",
            "--max-update", max_update, "--save-dir", save_dir, "--cpu", "--num-workers", "0", "--seed", "5",
            "--log-format", "simple", "--log-interval", "1", "--no-epoch-checkpoints", "--dropout", "0",
            "--attention-dropout", "0", *extra]


def two_workers(data, save_dir, max_update):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if k != TRUST_ENV}
    procs = [subprocess.Popen(
        [str(a) for a in train_args(
            data, save_dir, max_update, "--distributed-world-size", "2", "--distributed-rank", rank,
            "--distributed-no-spawn", "--distributed-backend", "gloo", "--ddp-backend", "legacy_ddp",
            "--distributed-init-method", f"tcp://127.0.0.1:{port}", "--device-id", "0")],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env) for rank in (0, 1)]
    outputs = [p.communicate(timeout=300) for p in procs]
    return [p.returncode for p in procs], [out + err for out, err in outputs]


def test_two_workers_resume_with_the_losses_of_one_worker(ddp_data, tmp_path):
    data = ddp_data
    single = updates(run(train_args(data, tmp_path / "one", 4, "--update-freq", "2", "--no-save")))
    codes, outputs = two_workers(data, tmp_path / "two", 2)
    assert codes == [0, 0], outputs[0][-3000:] + outputs[1][-3000:]
    codes, outputs = two_workers(data, tmp_path / "two", 4)
    assert codes == [0, 0], outputs[0][-3000:] + outputs[1][-3000:]
    assert "Loaded checkpoint" in outputs[0]
    resumed = updates(outputs[0])
    assert sorted(resumed) == [3, 4] and sorted(single) == [1, 2, 3, 4]
    for n in (3, 4):
        for key in KEYS:
            assert resumed[n][key] == pytest.approx(single[n][key], abs=2e-3), (n, key, resumed[n], single[n])

    # the same checkpoint_last.pt with a pickled command: rank 0 refuses, rank 1 stops too, nothing runs
    last = tmp_path / "two" / "checkpoint_last.pt"
    run([sys.executable, "-c", "import os, sys, torch\n"
         "class P:\n    def __reduce__(self): return os.system, ('touch ' + sys.argv[2],)\n"
         "s = torch.load(sys.argv[1], weights_only=False); s['extra_state']['p'] = P(); torch.save(s, sys.argv[1])",
         last, tmp_path / "marker"])
    codes, outputs = two_workers(data, tmp_path / "two", 6)
    assert codes[0] != 0 and codes[1] != 0 and not (tmp_path / "marker").exists()
    last_line = outputs[0].rstrip().splitlines()[-1].removeprefix("[rank0]: ")  # torch's prefix of worker output
    assert last_line.startswith(f"fairseq-train: error: {last}: refused to load: it needs {SYSTEM},"), last_line
