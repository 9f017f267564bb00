"""fairseq criterions of the plugin (imported by ``fairseq_weam/__init__.py``)."""
