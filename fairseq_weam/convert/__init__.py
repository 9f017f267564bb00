"""Hugging Face <-> fairseq checkpoints: BERT into a fairseq RoBERTa (``from_bert``), and fairseq RoBERTa /
XLM-R checkpoints into ``XLMRobertaFor{MaskedLM,SequenceClassification}`` directories (``to_xlmr``)."""
