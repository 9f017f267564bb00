"""A fine-tuning run killed with SIGKILL after a checkpoint resumes and gives the uninterrupted run's numbers."""
import signal
import subprocess

import pytest

from test_robust_training import inner_records
from weam_testing import run
from xtreme_testing import finetune_args, tiny_prepared

pytestmark = pytest.mark.slow

# PGD with a random start: the resumed run must also restore fairseq's per-update seeding.
ADVERSARIAL = ["--adv-steps", "2", "--adv-random-init", "--adv-eps", "0.5", "--adv-step-size", "0.3",
               "--save-interval-updates", "3"]


def test_sigkilled_run_resumes_with_the_same_losses(tmp_path_factory, tmp_path):
    bin_dir = tiny_prepared(tmp_path_factory.getbasetemp() / "xtreme")[3]
    straight = run(finetune_args(bin_dir, tmp_path / "straight", "adversarial", 6, ADVERSARIAL))

    save_dir = tmp_path / "killed"
    args = [str(a) for a in finetune_args(bin_dir, save_dir, "adversarial", 100, ADVERSARIAL)]
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        for line in proc.stdout:
            if "Saved checkpoint" in line and "@ 3 updates" in line:
                proc.send_signal(signal.SIGKILL)
                break
    finally:
        proc.kill()
        proc.communicate(timeout=60)
    assert proc.returncode == -signal.SIGKILL

    resumed = run(finetune_args(bin_dir, save_dir, "adversarial", 6, ADVERSARIAL))
    log = resumed.stdout + resumed.stderr
    assert f"Loaded checkpoint {save_dir / 'checkpoint_last.pt'} (epoch 1 @ 3 updates)" in log
    after, before = inner_records(log), inner_records(straight.stdout + straight.stderr)
    assert sorted(after) == [4, 5, 6]
    for n in (4, 5, 6):
        for key in ("loss", "clean_loss", "adv_loss", "accuracy", "gnorm"):
            assert float(after[n][key]) == pytest.approx(float(before[n][key]), abs=1e-3), (n, key)
