"""Zero-shot XCOPA evaluation of a ``sentence_ranking`` checkpoint, from the raw XTREME-layout files.

Each choice is encoded as the task builds it in training (``<init> choice </s> <sep> context </s>``, the
truncation of ``fairseq_weam.xtreme.xcopa``), scored by the ranking head; the prediction is the best choice.
Writes ``predictions/xcopa/test-<lang>.jsonl`` and the gold ``labels/xcopa/test-<lang>.jsonl`` (the files the
official scorer reads) and scores each language through ``fairseq_weam.xtreme.metrics`` (accuracy).
"""
import time
from pathlib import Path

import torch
from fairseq import checkpoint_utils
from fairseq.data import data_utils
from fairseq.tasks.sentence_ranking import SentenceRankingTask

import fairseq_weam  # noqa: F401  (registers the plugin; makes checkpoints loadable under torch >= 2.6)
from fairseq_weam.evaluation.classifier import CheckpointMismatchError
from fairseq_weam.xtreme import xcopa
from fairseq_weam.xtreme.benchmark import official_languages
from fairseq_weam.xtreme.encoding import PairEncoder
from fairseq_weam.xtreme.metrics import score_language
from fairseq_weam.xtreme.predictions import write_labels, write_predictions
from fairseq_weam.xtreme.requests import task_results


def _get(section, key):
    """A config value of a dataclass section (DictConfig) or a legacy task's argparse Namespace."""
    return section.get(key) if hasattr(section, "get") else getattr(section, key, None)


def load_ranker(checkpoint, dictionary, device="cpu"):
    """(model, task, head name) of a ``sentence_ranking`` checkpoint built over ``dictionary`` (dict.txt)."""
    data_dict = SentenceRankingTask.load_dictionary(None, str(dictionary))  # adds <mask>, as in training
    state = checkpoint_utils.load_checkpoint_to_cpu(str(checkpoint))
    cfg = state["cfg"]
    task_name = _get(cfg["task"], "_name") or _get(cfg["task"], "task")
    if task_name != "sentence_ranking":
        raise CheckpointMismatchError(f"{checkpoint} was trained with task {task_name!r}, not "
                                      "sentence_ranking; pass a checkpoint fine-tuned on weam-xtreme-prepare's "
                                      "xcopa output")
    rows = state["model"]["encoder.sentence_encoder.embed_tokens.weight"].shape[0]
    if rows != len(data_dict):
        raise CheckpointMismatchError(
            f"{checkpoint} has a vocabulary of {rows} embeddings but {dictionary} gives {len(data_dict)} "
            "(its symbols + 4 specials + <mask>): pass the dict.txt the model was trained with")
    head = _get(cfg["criterion"], "ranking_head_name") or "sentence_classification_head"
    task = SentenceRankingTask(cfg.task, data_dict)
    models, _, task = checkpoint_utils.load_model_ensemble_and_task([str(checkpoint)], task=task, state=state)
    model = models[0].to(device).eval()
    if head not in model.classification_heads:
        raise CheckpointMismatchError(f"{checkpoint} has no ranking head {head!r}; is it fine-tuned?")
    return model, task, head


def _tokens(dictionary, init_token, separator_token, choice, shared):
    encode = lambda pieces: dictionary.encode_line(  # noqa: E731
        " ".join(pieces), append_eos=True, add_if_not_exist=False).long()
    parts = [encode(choice), torch.tensor([separator_token]), encode(shared)]
    if init_token is not None:
        parts.insert(0, torch.tensor([init_token]))
    return torch.cat(parts)


@torch.no_grad()
def predict(model, task, head, encoder, examples, batch_size=32, device="cpu"):
    """The predicted choice id of every example."""
    dictionary = task.source_dictionary
    init_token, separator_token = task.args.init_token, task.args.separator_token
    predictions = []
    for start in range(0, len(examples), batch_size):
        chunk = examples[start:start + batch_size]
        encoded = [xcopa.encode_example(encoder, ex)[:2] for ex in chunk]
        scores = []
        for k in range(xcopa.NUM_CHOICES):
            rows = [_tokens(dictionary, init_token, separator_token, choices[k], shared) for shared, choices in encoded]
            src = data_utils.collate_tokens(rows, dictionary.pad()).to(device)
            score, _ = model(src, classification_head_name=head)
            scores.append(score.float())
        predictions += torch.cat(scores, dim=1).argmax(dim=1).tolist()
    return predictions


def evaluate(request, progress=print) -> dict:
    """Predict, write and score every test language of ``request.task_dir``; the task results dict."""
    started = time.time()
    langs = request.langs or [lang for lang in official_languages(request.task, request.version)
                              if (Path(request.task_dir) / f"test-{lang}.jsonl").is_file()] \
        or xcopa.find_test_languages(request.task_dir)
    tests = xcopa.read_test_sets(request.task_dir, langs)
    model, task, head = load_ranker(request.checkpoint, request.dictionary, request.device)
    encoder = PairEncoder(request.spm_model, min(request.max_len, model.encoder.max_positions()))
    out = Path(request.out_dir)
    predictions_dir = Path(request.predictions_dir) if request.predictions_dir else out / "predictions"
    scores = {}
    for lang, examples in tests.items():
        if request.limit:
            examples = examples[:request.limit]
        predicted = predict(model, task, head, encoder, examples, request.batch_size, request.device)
        gold = [ex.label for ex in examples]
        write_predictions(predictions_dir, request.task, lang, predicted, request.version)
        write_labels(out / "labels", request.task, lang, gold, request.version)
        scores[lang] = score_language(request.task, gold, predicted, lang)
        progress(f"xcopa {lang}: accuracy {scores[lang]['accuracy']:.2f} ({len(examples)} examples)")
    average = {"accuracy": sum(s["accuracy"] for s in scores.values()) / len(scores)}
    settings = {"checkpoint": str(request.checkpoint), "max_len": encoder.max_len, "limit": request.limit,
                "context_template": xcopa.CONTEXT_TEMPLATE}
    return task_results(request.task, list(scores), scores, "accuracy", average, average["accuracy"],
                        predictions_dir / request.task, settings, time.time() - started)
