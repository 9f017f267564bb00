"""fairseq's batch iterator without its prefetch thread when batches are built in the main process.

With ``--num-workers 0`` fairseq still starts a daemon thread (``--data-buffer-size``, default 10) that
formats batches (torch ops) ahead of training; when the interpreter exits while it is inside one, the
process aborts after a successful run (``terminate called without an active exception``, exit code 134 /
signal 6) — seen with fairseq's own ``masked_lm`` and ``sentence_prediction`` tasks and with ``weam``.
With the plugin loaded, every task that uses ``FairseqTask.get_batch_iterator`` gets no prefetch thread
when there are no DataLoader workers; with workers, the buffer is kept.
"""
import functools

from fairseq.tasks import FairseqTask


def no_prefetch_thread_without_workers():
    """Wrap ``FairseqTask.get_batch_iterator`` once (idempotent)."""
    original = FairseqTask.get_batch_iterator
    if getattr(original, "_weam_no_prefetch", False):
        return

    @functools.wraps(original)
    def get_batch_iterator(self, dataset, *args, num_workers=0, data_buffer_size=0, **kwargs):
        if num_workers == 0:
            data_buffer_size = 0
        return original(self, dataset, *args, num_workers=num_workers, data_buffer_size=data_buffer_size, **kwargs)

    get_batch_iterator._weam_no_prefetch = True
    FairseqTask.get_batch_iterator = get_batch_iterator
