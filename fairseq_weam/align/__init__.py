"""Word alignment: aligner backends, Pharaoh link files, symmetrization and word -> piece projection."""
