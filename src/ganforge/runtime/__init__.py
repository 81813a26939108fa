"""What every long-running command stands on: checkpoints written atomically, run folders that are never
overwritten, and the process group of a distributed run. Used by train, classify and metrics alike."""
