"""Fine-tuning data: XTREME / Robust-XLT sentence-pair files binarized for fairseq's sentence_prediction."""
