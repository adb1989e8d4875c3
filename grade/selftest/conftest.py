"""Fixtures for the project's own tests (`make test`)."""
import json
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from harness import build  # noqa: E402
from harness.paths import ROOT  # noqa: E402

PYTHON = "/usr/bin/python3"


@pytest.fixture(scope="session")
def labs():
    return build.lab_dirs()


def grade(kernel_dir, checkpoint, results, extra=()):
    """Run the real grading (as `make grade` does) on a built kernel; the parsed results."""
    p = subprocess.run([PYTHON, "-m", "pytest", "grade/tests", "-q", "--tb=no", "-rN", "-p", "no:xdist",
                        "--kernel", str(kernel_dir), "--checkpoint", str(checkpoint),
                        "--results", str(results), *extra],
                       cwd=ROOT, capture_output=True, text=True)
    if not Path(results).is_file():
        pytest.fail(f"grading wrote no results (exit {p.returncode}):\n{p.stdout}\n{p.stderr}",
                    pytrace=False)
    data = json.loads(Path(results).read_text())
    data["exit_status"] = p.returncode
    data["output"] = p.stdout
    return data
