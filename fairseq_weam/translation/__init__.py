"""Translate-train / translate-test baselines: fairseq translation models over weam-prepare's bitext.

``translator``: a trained ``--task translation`` checkpoint, decoded in-process with fairseq's hub interface
(sentencepiece in and out, beam search by fairseq's ``SequenceGenerator``). ``task_files``: the text columns
of an XTREME-layout task file translated, labels and row order kept. ``scoring``: sacreBLEU BLEU and chrF
with their signatures.
"""
