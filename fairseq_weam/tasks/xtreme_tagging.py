"""``--task xtreme_tagging``: token classification (UD-POS, WikiANN NER) for RoBERTa/XLM-R models.

Reads ``weam-xtreme-prepare --task panx|udpos`` output (``input0/``, ``label/``; see
``fairseq_weam.xtreme.tagging``). A sample's ``src_tokens`` is ``<s> pieces </s>`` and its ``target`` the
label dictionary ids aligned position by position (``<pad>`` on the specials and on every piece but a
word's first): the criterion scores the positions whose id is a tag. The head is a
:class:`TokenClassificationHead` in ``model.classification_heads``; with its ``dense`` and ``out_proj``
submodules RoBERTa's ``upgrade_state_dict_named`` keeps it across checkpoint save/load and adds it, freshly
initialized, when ``--restore-file`` names a pre-trained (masked_lm / weam) checkpoint.
"""
import contextlib
import logging
import os
from dataclasses import dataclass, field

import numpy as np
import torch
from fairseq.data import (BaseWrapperDataset, Dictionary, IdDataset, NestedDictionaryDataset, NumelDataset,
                          NumSamplesDataset, PrependTokenDataset, RightPadDataset, SortDataset, data_utils)
from fairseq import utils
from fairseq.dataclass import FairseqDataclass
from fairseq.tasks import FairseqTask, register_task
from omegaconf import II, MISSING, open_dict, OmegaConf
from torch import nn

from fairseq_weam.errors import WeamError

logger = logging.getLogger(__name__)


class TaggingTaskError(WeamError, ValueError):
    """Binarized tagging data that cannot be used."""


@dataclass
class XtremeTaggingConfig(FairseqDataclass):
    data: str = field(default=MISSING, metadata={"help": "weam-xtreme-prepare --task panx|udpos output dir"})
    classification_head_name: str = field(
        default="token_classification_head", metadata={"help": "name of the token classification head"})
    max_positions: int = field(default=512, metadata={"help": "max tokens per example (specials included)"})
    no_shuffle: bool = field(default=False, metadata={"help": "keep the data order of the files"})
    seed: int = II("common.seed")


class TokenClassificationHead(nn.Module):
    """dropout -> dense -> activation -> dropout -> out_proj at every position (B x T x C -> B x T x K)."""

    def __init__(self, input_dim, inner_dim, num_classes, activation_fn, pooler_dropout):
        super().__init__()
        self.dense = nn.Linear(input_dim, inner_dim)
        self.activation_fn = utils.get_activation_fn(activation_fn)
        self.dropout = nn.Dropout(p=pooler_dropout)
        self.out_proj = nn.Linear(inner_dim, num_classes)

    def forward(self, features, **kwargs):
        x = self.dropout(features)
        x = self.activation_fn(self.dense(x))
        return self.out_proj(self.dropout(x))


def add_token_head(model, name, num_classes):
    """Put a :class:`TokenClassificationHead` named ``name`` into ``model.classification_heads``."""
    args = model.args
    model.classification_heads[name] = TokenClassificationHead(
        args.encoder_embed_dim, args.encoder_embed_dim, num_classes, args.pooler_activation_fn,
        args.pooler_dropout)


def build_model_with_token_head(task, task_name, cfg, from_checkpoint, head_name, num_classes):
    """fairseq's model for ``cfg`` with the task's max positions and a per-token head ``head_name``
    (``--task xtreme_tagging``, ``--task xtreme_qa``); a model without classification heads is refused."""
    from fairseq import models

    with open_dict(cfg) if OmegaConf.is_config(cfg) else contextlib.ExitStack():
        cfg.max_positions = task.cfg.max_positions
    model = models.build_model(cfg, task, from_checkpoint)
    if not hasattr(model, "classification_heads"):
        raise TaggingTaskError(f"--task {task_name} needs a RoBERTa/XLM-R architecture (--arch "
                               f"roberta_base, xlm ...), not {type(model).__name__}")
    add_token_head(model, head_name, num_classes)
    return model


class LabelledWordsDataset(BaseWrapperDataset):
    """Number of tagged positions (ids >= ``nspecial``) of each label item; the batch's sum (the criterion's
    sample size, counted on the CPU while collating)."""

    def __init__(self, dataset, nspecial):
        super().__init__(dataset)
        self.nspecial = nspecial

    def __getitem__(self, index):
        return int((self.dataset[index] >= self.nspecial).sum())

    def collater(self, samples):
        return sum(samples)


def tagging_dictionaries(data):
    """(source dictionary with ``<mask>``, label dictionary) of a prepared tagging dir."""
    paths = [os.path.join(data, "input0", "dict.txt"), os.path.join(data, "label", "dict.txt")]
    for path in paths:
        if not os.path.isfile(path):
            raise TaggingTaskError(f"{path}: no such file; --task xtreme_tagging reads the output of "
                                   "weam-xtreme-prepare --task panx|udpos")
    source = Dictionary.load(paths[0])
    source.add_symbol("<mask>")  # as in pre-training (masked_lm, weam), so the vocabularies line up
    return source, Dictionary.load(paths[1])


@register_task("xtreme_tagging", dataclass=XtremeTaggingConfig)
class XtremeTaggingTask(FairseqTask):
    def __init__(self, cfg, data_dictionary, label_dictionary):
        super().__init__(cfg)
        self.dictionary = data_dictionary
        self._label_dictionary = label_dictionary

    @classmethod
    def setup_task(cls, cfg, **kwargs):
        source, labels = tagging_dictionaries(cfg.data.split(os.pathsep)[0])
        logger.info(f"[input] dictionary: {len(source)} types; [label] {cls.num_tags(labels)} tags")
        return cls(cfg, source, labels)

    @staticmethod
    def num_tags(label_dictionary) -> int:
        return len(label_dictionary) - label_dictionary.nspecial

    @property
    def num_classes(self) -> int:
        return self.num_tags(self._label_dictionary)

    def load_dataset(self, split, combine=False, **kwargs):
        data = self.cfg.data.split(os.pathsep)[0]

        def load(column, dictionary):
            path = os.path.join(data, column, split)
            dataset = data_utils.load_indexed_dataset(path, dictionary, combine=combine)
            if dataset is None:
                raise TaggingTaskError(f"{path}.bin: no such dataset; subsets of {data} are train, valid, "
                                       "test.<lang> (see its prepare_report.json)")
            return dataset

        pieces, labels = load("input0", self.dictionary), load("label", self._label_dictionary)
        if len(pieces) != len(labels) or not np.array_equal(pieces.sizes, labels.sizes):
            raise TaggingTaskError(f"{data}: input0/{split} and label/{split} differ in examples or lengths; "
                                   "prepare the data again with weam-xtreme-prepare")
        src_tokens = PrependTokenDataset(pieces, self.dictionary.bos())               # <s> pieces </s>
        target = PrependTokenDataset(labels, self._label_dictionary.pad())            # aligned with it
        with data_utils.numpy_seed(self.cfg.seed):
            shuffle = np.random.permutation(len(src_tokens))
        dataset = NestedDictionaryDataset({
            "id": IdDataset(),
            "net_input": {
                "src_tokens": RightPadDataset(src_tokens, pad_idx=self.dictionary.pad()),
                "src_lengths": NumelDataset(src_tokens, reduce=False),
            },
            "target": RightPadDataset(target, pad_idx=self._label_dictionary.pad()),
            "nsentences": NumSamplesDataset(),
            "ntokens": NumelDataset(src_tokens, reduce=True),
            "nwords": LabelledWordsDataset(labels, self._label_dictionary.nspecial),
        }, sizes=[src_tokens.sizes])
        if not self.cfg.no_shuffle:
            dataset = SortDataset(dataset, sort_order=[shuffle])
        logger.info(f"Loaded {split} with #samples: {len(dataset)}")
        self.datasets[split] = dataset
        return dataset

    def build_model(self, cfg, from_checkpoint=False):
        return build_model_with_token_head(self, "xtreme_tagging", cfg, from_checkpoint,
                                           self.cfg.classification_head_name, self.num_classes)

    def max_positions(self):
        return self.cfg.max_positions

    @property
    def source_dictionary(self):
        return self.dictionary

    @property
    def target_dictionary(self):
        return self.dictionary

    @property
    def label_dictionary(self):
        return self._label_dictionary


def tag_targets(target, nspecial):
    """Class ids (tag id - ``nspecial``) where ``target`` holds a tag, -100 (ignored) elsewhere; no sync."""
    return torch.where(target >= nspecial, target - nspecial, torch.full_like(target, -100))
