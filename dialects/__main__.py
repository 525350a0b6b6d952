"""python -m sepc.dialects: print the `sep` dialect's IRDL, generated from the op table."""
import sys

from . import sep_irdl

sys.stdout.write(sep_irdl())
