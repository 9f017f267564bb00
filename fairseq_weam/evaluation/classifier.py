"""A fine-tuned fairseq sentence-pair classifier, fed raw text pairs, run in batches.

The model is built from the checkpoint's own config, with its task constructed from the given ``dict.txt``
and the label dictionary it was fine-tuned with (read back from the fine-tuning data dir named in the
checkpoint, or ``label_dict``), so evaluation needs no binarized data and writes nothing. Pairs are
encoded exactly as ``sentence_prediction`` builds them: ``<init> a </s> <sep> b </s>``.
"""
from typing import Callable, List, Optional, Sequence

import torch
from fairseq import checkpoint_utils
from fairseq.data import data_utils
from fairseq.tasks import TASK_REGISTRY
from fairseq.tasks.sentence_prediction import SentencePredictionTask

import fairseq_weam  # noqa: F401  (registers the criterion; makes checkpoints loadable under torch >= 2.6)
from fairseq_weam.xtreme.encoding import PairEncoder
from fairseq_weam.xtreme.io import PairExample
from fairseq_weam.xtreme.labels import finetuned_label_order, label_dictionary, read_label_dictionary
from fairseq_weam.robust import embedding_forward
from fairseq_weam.errors import WeamError

#: perturb(src_tokens B x T, embeddings B x T x C, padding_mask B x T, label_ids B) -> fp32 delta B x T x C
Perturbation = Callable[[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]


class CheckpointMismatchError(WeamError, ValueError):
    """Dictionary or label set do not fit the checkpoint."""


def _cfg_get(section, key, default=None):
    return section.get(key, default) if section is not None else default


def model_label_order(checkpoint, cfg, label_dict=None) -> List[str]:
    """The labels in class-id order the checkpoint was fine-tuned with (from ``label_dict`` when given)."""
    if label_dict:
        return read_label_dictionary(label_dict)
    data = _cfg_get(cfg["task"], "data")
    found = finetuned_label_order(data)
    if found is None:
        raise CheckpointMismatchError(
            f"{checkpoint}: cannot find the label dictionary it was fine-tuned with (no label/dict.txt or "
            f"prepare_report.json in its data dir {data!r}); pass --label-dict DATA/label/dict.txt of the "
            "weam-xtreme-prepare output it was trained on")
    return found[0]


def load_checkpoint(checkpoint, dictionary, labels=None, device="cpu", label_dict=None):
    """(model, task, cfg, head name, labels) for a sentence_prediction checkpoint.

    ``labels`` (class-id order) must equal the order the model was fine-tuned with; ``None`` takes that order.
    """
    data_dict = SentencePredictionTask.load_dictionary(str(dictionary))  # adds <mask>, as in training
    state = checkpoint_utils.load_checkpoint_to_cpu(str(checkpoint))
    cfg = state["cfg"]
    weights = state["model"]
    rows = weights["encoder.sentence_encoder.embed_tokens.weight"].shape[0]
    if rows != len(data_dict):
        raise CheckpointMismatchError(
            f"{checkpoint} has a vocabulary of {rows} embeddings but {dictionary} gives {len(data_dict)} "
            "(its symbols + 4 specials + <mask>): pass the dict.txt the model was trained with")
    task_cls = TASK_REGISTRY.get(_cfg_get(cfg["task"], "_name"))
    if task_cls is None or not issubclass(task_cls, SentencePredictionTask):
        raise CheckpointMismatchError(f"{checkpoint} was trained with task {_cfg_get(cfg['task'], '_name')!r}, "
                                      "not sentence_prediction; pass a fine-tuned classifier")
    heads = {k.split(".")[1]: v.shape[0] for k, v in weights.items()
             if k.startswith("classification_heads.") and k.endswith("out_proj.weight")}
    head_name = _cfg_get(cfg["criterion"], "classification_head_name", "sentence_classification_head")
    if head_name not in heads:
        raise CheckpointMismatchError(f"{checkpoint} has no classification head {head_name!r} "
                                      f"(heads: {', '.join(heads) or 'none'}); is it a fine-tuned model?")
    if labels is not None and heads[head_name] != len(labels):
        raise CheckpointMismatchError(f"{checkpoint} predicts {heads[head_name]} classes but the label set "
                                      f"has {len(labels)} ({', '.join(labels)}): check --task / --labels")
    trained = model_label_order(checkpoint, cfg, label_dict)
    if len(trained) != heads[head_name]:
        raise CheckpointMismatchError(f"{checkpoint} predicts {heads[head_name]} classes but its label dictionary "
                                      f"has {len(trained)} ({','.join(trained)}): pass the right --label-dict")
    if labels is not None and list(labels) != trained:
        raise CheckpointMismatchError(
            f"the label order {','.join(labels)} differs from the order {','.join(trained)} that {checkpoint} "
            f"was fine-tuned with: pass --labels {','.join(trained)} (or leave --labels and --task out)")
    label_dict_obj = label_dictionary(trained)
    label_dict_obj.add_symbol("<mask>")  # as SentencePredictionTask.load_dictionary
    task = task_cls(cfg.task, data_dict, label_dict_obj)
    models, cfg, task = checkpoint_utils.load_model_ensemble_and_task([str(checkpoint)], task=task, state=state)
    model = models[0].to(device).eval()
    return model, task, cfg, head_name, trained


class PairClassifier:
    def __init__(self, model, task, head_name, encoder: PairEncoder, labels: Sequence[str], batch_size=32,
                 device="cpu"):
        self.model, self.task, self.head_name = model, task, head_name
        self.encoder, self.labels = encoder, list(labels)
        self.label_index = {label: i for i, label in enumerate(self.labels)}
        self.dictionary = task.source_dictionary
        self.init_token = task.cfg.init_token
        self.separator_token = task.cfg.separator_token
        self.batch_size, self.device = batch_size, device

    @classmethod
    def from_checkpoint(cls, checkpoint, spm_model, dictionary, labels=None, max_len=128, batch_size=32,
                        device="cpu", label_dict=None):
        """``labels``: class-id order to check against the model's; ``None`` takes the model's."""
        encoder = PairEncoder(spm_model, max_len)
        model, task, _, head_name, labels = load_checkpoint(checkpoint, dictionary, labels, device, label_dict)
        encoder.max_len = min(max_len, model.encoder.max_positions())  # longer inputs have no position embedding
        return cls(model, task, head_name, encoder, labels, batch_size, device)

    def tokens(self, example: PairExample) -> torch.Tensor:
        a, b = self.encoder.encode_pair(example.sentence1, example.sentence2)
        encode = lambda pieces: self.dictionary.encode_line(  # noqa: E731
            " ".join(pieces), append_eos=True, add_if_not_exist=False).long()
        parts = []
        if self.init_token is not None:
            parts.append(torch.tensor([self.init_token]))
        parts.append(encode(a))
        if b is not None:  # a single sentence (sentence2 None) is <init> a </s>, as sentence_prediction with input0 only
            if self.separator_token is not None:
                parts.append(torch.tensor([self.separator_token]))
            parts.append(encode(b))
        return torch.cat(parts)

    def label_ids(self, examples: Sequence[PairExample]) -> torch.Tensor:
        """Class ids of the gold labels (-1 for an unlabelled example, which is predicted, never scored)."""
        return torch.tensor([-1 if ex.label is None else self.label_index[ex.label] for ex in examples])

    def batches(self, examples: Sequence[PairExample]):
        """Yield (slice of examples, padded src_tokens on the device, label ids on the device)."""
        for start in range(0, len(examples), self.batch_size):
            chunk = examples[start:start + self.batch_size]
            src = data_utils.collate_tokens([self.tokens(ex) for ex in chunk], self.dictionary.pad())
            yield chunk, src.to(self.device), self.label_ids(chunk).to(self.device)

    def logits(self, src_tokens, embeddings=None):
        return embedding_forward.classify(self.model, src_tokens, self.head_name, embeddings).float()

    def probabilities(self, examples: Sequence[PairExample], perturb: Optional[Perturbation] = None) -> torch.Tensor:
        """N x K class probabilities, on clean inputs or with ``perturb`` applied to the token embeddings."""
        out = []
        for _, src, labels in self.batches(examples):
            if perturb is None:
                with torch.no_grad():
                    logits = self.logits(src)
            else:
                emb = embedding_forward.token_embeddings(self.model, src).detach()
                pad = embedding_forward.padding_mask(self.model, src)
                delta = perturb(src, emb, pad, labels)
                with torch.no_grad():
                    logits = self.logits(src, (emb.float() + delta).to(emb.dtype))
            out.append(logits.softmax(-1).cpu())
        return torch.cat(out) if out else torch.zeros(0, len(self.labels))

    def predict(self, examples, perturb=None) -> torch.Tensor:
        return self.probabilities(examples, perturb).argmax(-1)

    def accuracy(self, examples, perturb=None) -> float:
        """Accuracy in percent."""
        return percent(self.predict(examples, perturb), self.label_ids(examples))


def percent(predictions, labels) -> float:
    return 100.0 * (predictions == labels).float().mean().item() if len(labels) else float("nan")
