"""Where the golden cases are: the repository's own (test/golden/cases, written by
test/golden/generate.py from reference.py) always, and the shared conformance cases when a
checkout of the shared folder sits beside the repository (or SEPC_SHARED / SEPC_CONFORMANCE_CASES
names one). Tests parametrize over what exists, so a clone on its own runs the whole suite."""
from __future__ import annotations

import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
GOLDEN_ROOT = REPO / "test" / "golden"
REPO_CASES_ROOT = GOLDEN_ROOT / "cases"
SHARED_ROOT = Path(os.environ.get("SEPC_SHARED", REPO.parent / "shared"))
SHARED_CASES_ROOT = Path(os.environ.get("SEPC_CONFORMANCE_CASES",
                                        SHARED_ROOT / "conformance" / "cases"))
SPEC_MODEL_JSON = SHARED_ROOT / "spec" / "model-json.md"


def cases_under(root: Path) -> list[Path]:
    return sorted(p.parent for p in root.glob("*/model.json"))


REPO_CASES = cases_under(REPO_CASES_ROOT)
SHARED_CASES = cases_under(SHARED_CASES_ROOT)
