"""``--task xtreme_qa``: extractive question answering (XQuAD, MLQA, TyDiQA-GoldP; SQuAD v1.1 training) on a
RoBERTa/XLM-R encoder, over the windows ``fairseq_weam.xtreme.qa.prepare`` binarized.

Each item is one window ``<s> question </s> </s> context </s>`` with its answer's start and end token
positions (0, ``<s>``, for a window without the answer). The model gets a span head: the tagging task's
per-token head (``dense -> activation -> dropout -> out_proj``) with 2 outputs, start and end logit, in
``model.classification_heads`` with RoBERTa's ``dense`` / ``out_proj`` names, so RoBERTa's
``upgrade_state_dict_named`` keeps it across fairseq checkpoint save/load and adds it (freshly initialised)
when fine-tuning starts from a pre-trained checkpoint with ``--restore-file``.
"""
import logging
import os
from dataclasses import dataclass, field

import numpy as np
from fairseq.data import (IdDataset, NestedDictionaryDataset, NumelDataset, NumSamplesDataset, RawLabelDataset,
                          RightPadDataset, SortDataset, data_utils)
from fairseq.dataclass import FairseqDataclass
from fairseq.tasks import FairseqTask, register_task
from fairseq.tasks.sentence_prediction import SentencePredictionTask
from omegaconf import II, MISSING

from fairseq_weam.errors import WeamError
from fairseq_weam.tasks.xtreme_tagging import build_model_with_token_head

logger = logging.getLogger(__name__)

#: number of outputs of the span head per token: start logit, end logit
SPAN_OUTPUTS = 2


class QATaskError(WeamError, ValueError):
    """Data or model set-up the QA task cannot use."""


@dataclass
class XtremeQAConfig(FairseqDataclass):
    data: str = field(default=MISSING, metadata={"help": "weam-xtreme-prepare output of a QA task "
                                                         "(input0/, <subset>.positions.npy)"})
    span_head_name: str = field(default="span_head",
                                metadata={"help": "name of the span head in model.classification_heads"})
    max_positions: int = field(default=512, metadata={"help": "max tokens per window"})
    no_shuffle: bool = field(default=False, metadata={"help": "keep the windows in file order"})
    seed: int = II("common.seed")


@register_task("xtreme_qa", dataclass=XtremeQAConfig)
class XtremeQATask(FairseqTask):
    def __init__(self, cfg, dictionary):
        super().__init__(cfg)
        self.dictionary = dictionary

    @classmethod
    def load_dictionary(cls, filename):
        """The pre-trained model's dictionary: dict.txt plus ``<mask>``, as masked_lm / sentence_prediction."""
        return SentencePredictionTask.load_dictionary(filename)

    @classmethod
    def setup_task(cls, cfg, **kwargs):
        path = os.path.join(cfg.data, "input0", "dict.txt")
        if not os.path.isfile(path):
            raise QATaskError(f"{path}: no such file; --task xtreme_qa reads the output of "
                              "weam-xtreme-prepare --task xquad|mlqa|tydiqa")
        return cls(cfg, cls.load_dictionary(path))

    def load_dataset(self, split, combine=False, **kwargs):
        tokens = data_utils.load_indexed_dataset(os.path.join(self.cfg.data, "input0", split), self.dictionary,
                                                 combine=combine)
        positions_path = os.path.join(self.cfg.data, f"{split}.positions.npy")
        if tokens is None or not os.path.isfile(positions_path):
            raise QATaskError(f"{self.cfg.data}: no subset {split!r} (input0/{split}.bin and "
                              f"{split}.positions.npy); subsets are listed in prepare_report.json")
        positions = np.load(positions_path)
        if len(positions) != len(tokens):
            raise QATaskError(f"{positions_path} has {len(positions)} windows but input0/{split} has "
                              f"{len(tokens)}; prepare the data again")
        too_far = positions.max(axis=1, initial=0) >= tokens.sizes
        if too_far.any():
            raise QATaskError(f"{positions_path}: window {int(np.flatnonzero(too_far)[0])} points past its "
                              "tokens; prepare the data again")
        dataset = {
            "id": IdDataset(),
            "net_input": {
                "src_tokens": RightPadDataset(tokens, pad_idx=self.dictionary.pad()),
                "src_lengths": NumelDataset(tokens, reduce=False),
            },
            "start_positions": RawLabelDataset(positions[:, 0].tolist()),
            "end_positions": RawLabelDataset(positions[:, 1].tolist()),
            "nsentences": NumSamplesDataset(),
            "ntokens": NumelDataset(tokens, reduce=True),
        }
        nested = NestedDictionaryDataset(dataset, sizes=[tokens.sizes])
        if not self.cfg.no_shuffle:
            with data_utils.numpy_seed(self.cfg.seed):
                nested = SortDataset(nested, sort_order=[np.random.permutation(len(tokens))])
        logger.info("Loaded %s with #windows: %d", split, len(nested))
        self.datasets[split] = nested
        return nested

    def build_model(self, cfg, from_checkpoint=False):
        return build_model_with_token_head(self, "xtreme_qa", cfg, from_checkpoint, self.cfg.span_head_name,
                                           SPAN_OUTPUTS)

    def max_positions(self):
        return self.cfg.max_positions

    @property
    def source_dictionary(self):
        return self.dictionary

    @property
    def target_dictionary(self):
        return self.dictionary
