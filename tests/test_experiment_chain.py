"""One real chain: weam-experiment runs fairseq-train twice (two label sets) and weam-evaluate on a tiny task."""
import textwrap

import pytest
import torch

from fairseq_weam.experiments.plan import head_name
from weam_testing import TINY_ROBERTA, run, tool
from xtreme_testing import train_spm, write_task_dir


@pytest.mark.slow
def test_a_real_two_stage_chain_hands_the_encoder_on_with_a_fresh_head(tmp_path):
    first = write_task_dir(tmp_path / "first")  # labels 0/1 (a sentiment word decides)
    second = tmp_path / "second"                 # the same kind of rows, labels neg/pos: another label set
    second.mkdir()
    for path in first.glob("*.tsv"):
        lines = path.read_text(encoding="utf-8").splitlines()
        (second / path.name).write_text("".join(
            "\t".join(line.split("\t")[:2] + [["neg", "pos"][int(line.split("\t")[2])]]) + "\n" for line in lines),
            encoding="utf-8")
    spm_model, dictionary = train_spm(tmp_path / "spm", first)
    arch = ", ".join(TINY_ROBERTA)
    config = tmp_path / "chain.yaml"
    config.write_text(textwrap.dedent(f"""\
        out_dir: {tmp_path}/out
        start: {{dict: {dictionary}, spm_model: {spm_model}, arch: [{arch}]}}
        tasks:
          first: {{dir: {first}, labels: ["0", "1"]}}
          second: {{dir: {second}, labels: [neg, pos]}}
        stages: [{{name: warmup, task: first, epochs: 2, lr: 1e-3}}]
        target: {{name: target, task: second, epochs: 2, lr: 1e-3}}
        training: {{batch_size: 16, max_len: 64, extra_args: [--cpu, --num-workers, "0"]}}
        evaluation: {{langs: [de], extra_args: [--no-generalized]}}
        seeds: [1]
        """))
    proc = run([tool("weam-experiment"), config], timeout=1800)  # about a minute on an idle CPU
    assert "stage 2-target (task second" in proc.stdout and "evaluate: done" in proc.stdout
    run_dir = tmp_path / "out/runs/default/seed1"
    one = torch.load(run_dir / "1-warmup/checkpoint_best.pt", map_location="cpu", weights_only=False)
    two = torch.load(run_dir / "2-target/checkpoint_best.pt", map_location="cpu", weights_only=False)
    assert two["cfg"]["checkpoint"]["finetune_from_model"] == str(run_dir / "1-warmup/checkpoint_best.pt")
    heads = lambda state: sorted({k.split(".")[1] for k in state["model"] if k.startswith("classification_heads.")})
    assert heads(one) == [head_name(["0", "1"])] and heads(two) == [head_name(["neg", "pos"])]
    # the second stage trained on from the first's encoder: its embeddings stay near those (two independent
    # initializations differ by about sqrt(2) of their norm)
    key = "encoder.sentence_encoder.embed_tokens.weight"
    moved = (two["model"][key] - one["model"][key]).norm() / one["model"][key].norm()
    assert moved < 0.5
    results = (run_dir / "eval/results.json").read_text()
    assert '"de"' in results and '"en"' in results
    assert (tmp_path / "out/report/summary.md").is_file() and (tmp_path / "out/report/by_family.png").is_file()
