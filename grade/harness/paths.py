"""Where things are, and the settings that come from the environment."""
import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
KTESTS = ROOT / "grade" / "ktests"
BUILD = ROOT / "build"
LABS = ROOT / "labs"
SOLUTIONS = ROOT / "solutions"


def rel(path):
    """path relative to the repository when it is inside it, for short messages. A relative
    path is taken as relative to the repository (as the kernel's debug information names
    files: ./kernel/main.c)."""
    p = Path(path)
    if not p.is_absolute():
        p = ROOT / p
    try:
        return str(p.resolve().relative_to(ROOT))
    except ValueError:
        return str(p)


def env(name, default):
    v = os.environ.get(name, "")
    return v if v else default
