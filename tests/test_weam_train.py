"""fairseq-train --task weam --criterion weam end to end on CPU: objectives, resume, two workers, vocab check."""
import re
import socket
import subprocess

import pytest
from weam_pair_data import make_aligned_data
from weam_testing import TINY_ROBERTA, USER_DIR, run, tool

pytestmark = pytest.mark.slow

KEYS = ("loss", "ml_loss", "cl_loss", "ml_acc", "cl_acc", "ppl", "ml_tokens", "cl_tokens")


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return make_aligned_data(tmp_path_factory.mktemp("weam_train"), pairs=("en-de", "en-fr"))


def train_args(data, save_dir, *extra, max_update=3, batch_size=8):
    return [tool("fairseq-train"), data, "--user-dir", USER_DIR, "--task", "weam", "--criterion", "weam",
            *TINY_ROBERTA, "--tokens-per-sample", "64", "--batch-size", batch_size, "--optimizer", "adam",
            "--lr", "1e-3", "--max-update", max_update, "--save-dir", save_dir, "--cpu", "--num-workers", "0",
            "--log-format", "simple", "--log-interval", "1", "--no-epoch-checkpoints", "--seed", "5",
            "--dropout", "0", "--attention-dropout", "0", *extra]


def updates(output):
    """{num_updates: {key: value}} from train_inner lines (of a process or of its text output)."""
    if isinstance(output, subprocess.CompletedProcess):
        output = output.stdout + output.stderr
    logged = {}
    for line in output.splitlines():
        if "train_inner" in line and "num_updates=" in line:
            fields = dict(re.findall(r"(\w+)=([-\d.e]+)", line))
            logged[int(fields["num_updates"])] = {k: float(v) for k, v in fields.items()}
    return logged


def test_every_objective_trains_logs_the_same_keys_and_masks_the_same_tokens(data, tmp_path):
    logs = {}
    for objective in ("weam", "tlm", "mlm"):
        # --order-by-pair-length: the one order that batches one-row (tlm) and two-row (weam, mlm) formats alike
        proc = run(train_args(data, tmp_path / objective, "--objective", objective, "--no-save",
                              "--order-by-pair-length"))
        logs[objective] = updates(proc.stdout + proc.stderr)
        assert sorted(logs[objective]) == [1, 2, 3]
        for values in logs[objective].values():
            assert all(k in values for k in KEYS), values
        assert "valid on 'valid' subset" in proc.stdout + proc.stderr
        assert "Please install tensorboardX" not in proc.stdout + proc.stderr
    assert all(v["cl_tokens"] > 0 and v["cl_loss"] > 0 for v in logs["weam"].values())
    for baseline in ("tlm", "mlm"):
        assert all(v["cl_tokens"] == 0 and v["cl_loss"] == 0 for v in logs[baseline].values())
        assert all(v["loss"] == v["ml_loss"] for v in logs[baseline].values())
        # same seed: the same pairs and masked pieces, so the same number of predicted pieces per update
        assert [v["ml_tokens"] for v in logs[baseline].values()] == [v["ml_tokens"] for v in logs["weam"].values()]


def test_weam_concat_mode_and_whole_word_masking_train(data, tmp_path):
    proc = run(train_args(data, tmp_path / "c", "--input-mode", "concat", "--mask-whole-words", "--reset-positions",
                          "--no-save"))
    logged = updates(proc.stdout + proc.stderr)
    assert sorted(logged) == [1, 2, 3] and all(v["cl_tokens"] > 0 for v in logged.values())


def test_resumed_run_reaches_the_same_loss_as_an_uninterrupted_one(data, tmp_path):
    straight = updates(run(train_args(data, tmp_path / "a", max_update=6)))
    run(train_args(data, tmp_path / "b", max_update=3))
    resumed = run(train_args(data, tmp_path / "b", max_update=6))
    assert "Loaded checkpoint" in resumed.stderr + resumed.stdout
    after = updates(resumed.stdout + resumed.stderr)
    assert sorted(after) == [4, 5, 6]
    for n in (4, 6):
        for key in ("loss", "ml_loss", "cl_loss", "ml_tokens", "cl_tokens"):
            assert after[n][key] == pytest.approx(straight[n][key], abs=2e-3), (n, key)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_two_cpu_workers_match_one_worker_with_update_freq_2(data, tmp_path):
    single = updates(run(train_args(data, tmp_path / "one", "--update-freq", "2", "--no-save",
                                    max_update=3, batch_size=4)))
    port = free_port()
    procs = [
        subprocess.Popen(
            [str(a) for a in train_args(
                data, tmp_path / "two", "--no-save", "--distributed-world-size", "2", "--distributed-rank", rank,
                "--distributed-no-spawn", "--distributed-backend", "gloo", "--ddp-backend", "legacy_ddp",
                "--distributed-init-method", f"tcp://127.0.0.1:{port}", max_update=3, batch_size=4)],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        for rank in (0, 1)
    ]
    outputs = [p.communicate(timeout=300)[0] for p in procs]
    assert all(p.returncode == 0 for p in procs), outputs[0][-3000:] + outputs[1][-3000:]
    double = updates(outputs[0])
    assert sorted(double) == sorted(single) == [1, 2, 3]
    for n in (1, 2, 3):
        for key in ("loss", "ml_loss", "cl_loss", "ml_tokens", "cl_tokens", "bsz"):
            assert double[n][key] == pytest.approx(single[n][key], abs=2e-3), (n, key, double[n], single[n])


def test_vocabulary_mismatch_with_the_checkpoint_fails_before_training(data, tmp_path):
    run(train_args(data, tmp_path / "small", max_update=1))
    checkpoint = tmp_path / "small" / "checkpoint_last.pt"
    other = make_aligned_data(tmp_path / "bigger", n_words=40, n_train=40, n_valid=24)
    failed = run(train_args(other, tmp_path / "ft", "--finetune-from-model", checkpoint, max_update=2), check=False)
    output = failed.stdout + failed.stderr
    assert failed.returncode != 0
    assert "vocabulary size mismatch" in output and str(checkpoint) in output
    assert str(other / "dict.txt") in output
    assert not updates(output)


def test_hydra_config_trains(data, tmp_path):
    proc = run([tool("fairseq-hydra-train"), "--config-dir", USER_DIR.parent / "examples" / "pretrain" / "config",
                "--config-name", "weam_base", f"task.data={data}", f"common.user_dir={USER_DIR}",
                "common.fp16=false", "common.cpu=true", "common.log_format=simple", "common.log_interval=1",
                "optimization.max_update=2", "dataset.max_tokens=1024", "dataset.num_workers=0",
                "+model.encoder_layers=1", "+model.encoder_embed_dim=32", "+model.encoder_ffn_embed_dim=64",
                "+model.encoder_attention_heads=2", "model.max_positions=64", "task.tokens_per_sample=64",
                f"checkpoint.save_dir={tmp_path / 'ckpt'}", "checkpoint.no_save=true",
                f"hydra.run.dir={tmp_path / 'hydra'}"])
    logged = updates(proc)
    assert sorted(logged) == [1, 2] and all(v["cl_tokens"] > 0 for v in logged.values())


@pytest.mark.parametrize("flags,message", [
    (("--tokens-per-sample", "4"), "--tokens-per-sample 4 leaves no piece to predict"),
    (("--mask-prob", "0"), "--mask-prob 0 masks no piece"),
    (("--fp16",), "--fp16 needs a CUDA GPU; this run is with --cpu"),
    (("--bf16",), "--bf16 needs a CUDA GPU; this run is with --cpu"),
    (("--objective", "mlm", "--reset-positions"), "--reset-positions applies to <s> x </s> y </s> inputs"),
])
def test_settings_that_cannot_train_are_refused_in_one_line(data, tmp_path, flags, message):
    failed = run(train_args(data, tmp_path / "x", *flags), check=False)
    output = failed.stdout + failed.stderr
    assert failed.returncode != 0 and not updates(output)
    lines = [line for line in output.splitlines() if message in line]
    assert len(lines) == 1, output[-3000:]
    assert re.search(r"(WeamTaskError|fairseq-train: error): " + re.escape(message), lines[0])  # one line
    assert "use" in lines[0] or "drop" in lines[0]  # and what to do
