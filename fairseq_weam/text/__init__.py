"""Text units over pieces: word boundaries (sentencepiece ``▁``)."""
