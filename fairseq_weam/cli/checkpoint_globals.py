"""``weam-checkpoint-globals``: the globals each checkpoint needs beyond torch's own, without loading it.

Those not on the plugin's allow-list (``fairseq_weam.checkpoint_safety.ALLOWED``) are marked: a file that
needs one is refused unless trusted (``--trust-checkpoint``, ``WEAM_TRUST_CHECKPOINT=1``).
"""
import argparse
import sys

import torch

from fairseq_weam.checkpoint_safety import ALLOWED_NAMES
from fairseq_weam.cli.entry import run_cli


def main(argv=None):
    parser = argparse.ArgumentParser(prog="weam-checkpoint-globals", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("checkpoints", nargs="+", help="checkpoint files (.pt)")
    args = parser.parse_args(argv)

    def run():
        for path in args.checkpoints:
            names = torch.serialization.get_unsafe_globals_in_checkpoint(path)
            marked = [name if name in ALLOWED_NAMES else f"{name} (NOT ALLOWED)" for name in sorted(names)]
            print(f"{path}: {', '.join(marked) or '-'}")

    return run_cli("weam-checkpoint-globals", run)


if __name__ == "__main__":
    sys.exit(main())
