"""Seeing training: the HTML run report, the runs table, run status and latent walks.

Everything here reads a run folder as it is on disk (config.yaml, stats.jsonl, samples/, checkpoints/,
metrics/) and tolerates whatever is missing, so a run that has just started, crashed, or never wrote a
checkpoint still gets a report. Nothing here is imported by the training loop unless asked for.
"""
