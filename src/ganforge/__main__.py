"""`python -m ganforge` (and `torchrun -m ganforge`) run the command line."""
import sys

from .cli import main

sys.exit(main())
