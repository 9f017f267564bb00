"""A trained fairseq ``--task translation`` checkpoint as a batch translator of raw sentences.

Decoding is fairseq's own: the checkpoint is loaded with ``checkpoint_utils`` (through the plugin's
weights-only reader) into fairseq's ``GeneratorHubInterface``, which encodes with the sentencepiece model,
batches by length, runs ``SequenceGenerator`` (beam search) and decodes back to text, in input order.
"""
import pickle
from pathlib import Path
from typing import List, Sequence

import torch
from fairseq import checkpoint_utils
from fairseq.hub_utils import GeneratorHubInterface

import fairseq_weam  # noqa: F401  (registers the plugin: weights-only checkpoint reads)
from fairseq_weam.errors import WeamError


class TranslationModelError(WeamError, ValueError):
    """A checkpoint or data directory that cannot be used to translate."""


def _task_cfg(state):
    cfg = state.get("cfg")
    if cfg is not None and cfg.get("task") is not None:
        return cfg["task"]
    args = state.get("args")
    return vars(args) if args is not None else {}


class Translator:
    """Translate sentences with one checkpoint (its source and target language are the checkpoint's)."""

    def __init__(self, checkpoint, data_dir, spm_model, beam=4, batch_size=64, max_len_a=1.2, max_len_b=10,
                 device="cpu"):
        checkpoint, data_dir, spm_model = Path(checkpoint), Path(data_dir), Path(spm_model)
        for path, what in ((checkpoint, "checkpoint"), (spm_model, "sentencepiece model")):
            if not path.is_file():
                raise TranslationModelError(f"{path}: no such {what} file")
        overrides = {"data": str(data_dir), "bpe": "sentencepiece", "sentencepiece_model": str(spm_model),
                     "batch_size": batch_size}
        try:
            state = checkpoint_utils.load_checkpoint_to_cpu(str(checkpoint), arg_overrides=overrides)
        except (pickle.UnpicklingError, RuntimeError, EOFError, KeyError) as err:
            raise TranslationModelError(f"{checkpoint} is not a readable fairseq checkpoint "
                                        f"({type(err).__name__}); pass a checkpoint_*.pt that fairseq-train "
                                        "wrote") from None
        task_cfg = _task_cfg(state)
        name = task_cfg.get("_name") or task_cfg.get("task")
        if name != "translation":
            raise TranslationModelError(f"{checkpoint} was trained with --task {name}, not translation; pass a "
                                        "checkpoint of fairseq-train --task translation")
        self.source_lang, self.target_lang = task_cfg.get("source_lang"), task_cfg.get("target_lang")
        for lang in (self.source_lang, self.target_lang):
            if not (data_dir / f"dict.{lang}.txt").is_file():
                raise TranslationModelError(f"{data_dir} has no dict.{lang}.txt; pass the weam-prepare data dir "
                                            f"the model {checkpoint} was trained on")
        try:
            models, cfg, task = checkpoint_utils.load_model_ensemble_and_task(
                [str(checkpoint)], arg_overrides=overrides, state=state)
        except RuntimeError as err:  # state dict of other shapes: another dictionary
            first = str(err).strip().splitlines()[-1].strip()
            raise TranslationModelError(f"{checkpoint} does not fit the dictionaries of {data_dir} ({first}); "
                                        "pass the data dir the model was trained on") from None
        self.hub = GeneratorHubInterface(cfg, task, models).eval()
        if device != "cpu":
            self.hub.to(torch.device(device))
        self.max_source_tokens = self.hub.max_positions[0]
        self.beam, self.max_len_a, self.max_len_b = beam, max_len_a, max_len_b
        self.truncated = 0

    @property
    def direction(self) -> str:
        return f"{self.source_lang}->{self.target_lang}"

    def _encode(self, sentence: str) -> torch.LongTensor:
        tokens = self.hub.encode(sentence)
        if len(tokens) > self.max_source_tokens:  # keep the model's limit, end-of-sentence included
            self.truncated += 1
            tokens = torch.cat([tokens[: self.max_source_tokens - 1], tokens[-1:]])
        return tokens

    def translate(self, sentences: Sequence[str]) -> List[str]:
        """The best beam hypothesis of each sentence, detokenized, one line each (tabs and newlines made spaces)."""
        if not sentences:
            return []
        hypos = self.hub.generate([self._encode(s) for s in sentences], beam=self.beam,
                                  max_len_a=self.max_len_a, max_len_b=self.max_len_b)
        return [" ".join(self.hub.decode(h[0]["tokens"]).split()) for h in hypos]
