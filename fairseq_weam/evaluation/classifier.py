"""A fine-tuned fairseq sentence-pair classifier, fed raw text pairs, run in batches.

The checkpoint is loaded with ``checkpoint_utils.load_model_ensemble_and_task``; the task's data dir is
replaced by a temporary one holding the given ``dict.txt`` and the label dictionary written from the label
set (same order as weam-xtreme-prepare), so evaluation needs no binarized data. Pairs are encoded exactly
as ``sentence_prediction`` builds them: ``<init> a </s> <sep> b </s>``.
"""
import shutil
import tempfile
from pathlib import Path
from typing import Callable, Optional, Sequence

import torch
from fairseq import checkpoint_utils
from fairseq.data import Dictionary, data_utils

import fairseq_weam  # noqa: F401  (registers the criterion; makes checkpoints loadable under torch >= 2.6)
from fairseq_weam.xtreme.encoding import PairEncoder
from fairseq_weam.xtreme.io import PairExample
from fairseq_weam.xtreme.binarize import write_label_dictionary
from fairseq_weam.robust import embedding_forward
from fairseq_weam.errors import WeamError

#: perturb(src_tokens B x T, embeddings B x T x C, padding_mask B x T, label_ids B) -> fp32 delta B x T x C
Perturbation = Callable[[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]


class CheckpointMismatchError(WeamError, ValueError):
    """Dictionary or label set do not fit the checkpoint."""


def load_checkpoint(checkpoint, dictionary, labels, device="cpu"):
    """(model, task, cfg) for a sentence_prediction checkpoint, checked against the dict and label set."""
    vocab = len(Dictionary.load(str(dictionary))) + 1  # sentence_prediction adds <mask>
    data_dir = Path(tempfile.mkdtemp(prefix="weam-eval-data-"))
    try:
        (data_dir / "input0").mkdir()
        (data_dir / "label").mkdir()
        shutil.copy(dictionary, data_dir / "input0" / "dict.txt")
        write_label_dictionary(data_dir / "label" / "dict.txt", labels)
        state = checkpoint_utils.load_checkpoint_to_cpu(str(checkpoint), {"data": str(data_dir)})
        weights = state["model"]
        rows = weights["encoder.sentence_encoder.embed_tokens.weight"].shape[0]
        if rows != vocab:
            raise CheckpointMismatchError(
                f"{checkpoint} has a vocabulary of {rows} embeddings but {dictionary} gives {vocab} "
                "(its symbols + 4 specials + <mask>): pass the dict.txt the model was trained with")
        heads = {k.split(".")[1]: v.shape[0] for k, v in weights.items()
                 if k.startswith("classification_heads.") and k.endswith("out_proj.weight")}
        head_name = state["cfg"]["criterion"].get("classification_head_name", "sentence_classification_head")
        if head_name not in heads:
            raise CheckpointMismatchError(f"{checkpoint} has no classification head {head_name!r} "
                                          f"(heads: {', '.join(heads) or 'none'}); is it a fine-tuned model?")
        if heads[head_name] != len(labels):
            raise CheckpointMismatchError(f"{checkpoint} predicts {heads[head_name]} classes but the label set "
                                          f"has {len(labels)} ({', '.join(labels)}): check --task / --labels")
        models, cfg, task = checkpoint_utils.load_model_ensemble_and_task([str(checkpoint)], state=state)
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)
    model = models[0].to(device).eval()
    return model, task, cfg, head_name


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
    def from_checkpoint(cls, checkpoint, spm_model, dictionary, labels, max_len=128, batch_size=32, device="cpu"):
        model, task, _, head_name = load_checkpoint(checkpoint, dictionary, labels, device)
        max_len = min(max_len, model.encoder.max_positions())  # longer inputs have no position embedding
        return cls(model, task, head_name, PairEncoder(spm_model, max_len), labels, batch_size, device)

    def tokens(self, example: PairExample) -> torch.Tensor:
        a, b = self.encoder.encode_pair(example.sentence1, example.sentence2)
        encode = lambda pieces: self.dictionary.encode_line(  # noqa: E731
            " ".join(pieces), append_eos=True, add_if_not_exist=False).long()
        parts = []
        if self.init_token is not None:
            parts.append(torch.tensor([self.init_token]))
        parts.append(encode(a))
        if self.separator_token is not None:
            parts.append(torch.tensor([self.separator_token]))
        parts.append(encode(b))
        return torch.cat(parts)

    def label_ids(self, examples: Sequence[PairExample]) -> torch.Tensor:
        return torch.tensor([self.label_index[ex.label] for ex in examples])

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
