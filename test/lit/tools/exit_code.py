"""exit_code.py N CMD ARGS...: run CMD, pass its stdout/stderr through, succeed iff it exits N.

For lit tests of the CLI contract (spec/cli.md: 2 for the user's errors, 1 for internal
ones); lit's `not` only tells zero from non-zero.
"""
import subprocess
import sys

expected, cmd = int(sys.argv[1]), sys.argv[2:]
code = subprocess.run(cmd).returncode
if code != expected:
    print(f"exit_code.py: {' '.join(cmd)}: exit code {code}, expected {expected}", file=sys.stderr)
    sys.exit(1)
