"""Gradescope's results.json: writing it from the grader's results, and checking a file
against the format Gradescope documents for autograders
(https://gradescope-autograders.readthedocs.io/en/latest/specs/):

    {"score": 40.0, "execution_time": 12, "output": "...", "stdout_visibility": "hidden",
     "tests": [{"name": "01-boot: idt.loaded_with_256_gates", "score": 2.0, "max_score": 2.0,
                "status": "passed", "output": "", "visibility": "visible", "tags": ["01-boot"]},
               ...]}
"""
import math

VISIBILITIES = ("hidden", "after_due_date", "after_published", "visible")
STATUSES = ("passed", "failed")
FORMATS = ("text", "html", "simple_format", "md", "ansi")
TOP_KEYS = {"score", "execution_time", "output", "output_format", "test_output_format",
            "test_name_format", "visibility", "stdout_visibility", "extra_data", "tests",
            "leaderboard"}
TEST_KEYS = {"score", "max_score", "status", "name", "name_format", "number", "output",
             "output_format", "tags", "visibility", "extra_data"}
OUTPUT_MAX = 8000  # characters of one test's output kept (Gradescope truncates long ones)


def test_name(result):
    return f"{result['lab']}: {result['test']}"


def results(tests, execution_time, output="", hidden_visibility="after_published"):
    """Gradescope's results for the grader's test results (the dicts grade/conftest.py keeps:
    lab, test, points, max_points, status, message, hidden)."""
    out = []
    for r in tests:
        message = r.get("message") or ""
        if len(message) > OUTPUT_MAX:
            message = message[:OUTPUT_MAX] + "\n[... cut; the whole message is in the grader's log]"
        out.append({"name": test_name(r), "score": float(r["points"]),
                    "max_score": float(r["max_points"]), "status": r["status"],
                    "output": message,
                    "visibility": hidden_visibility if r.get("hidden") else "visible",
                    "tags": [r["lab"]]})
    return {"score": float(sum(t["score"] for t in out)),
            "execution_time": int(math.ceil(execution_time)), "output": output,
            "output_format": "text", "test_output_format": "text",
            "stdout_visibility": "hidden", "tests": out}


def problems(data):
    """What in data Gradescope would not accept, in words: [] if it is a valid results.json."""
    bad = []

    def number(v):
        return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)

    if not isinstance(data, dict):
        return ["the top level is not a JSON object"]
    bad += [f"unknown top-level key {k!r}" for k in sorted(set(data) - TOP_KEYS)]
    tests = data.get("tests")
    if "score" not in data and not (isinstance(tests, list) and tests
                                    and all(isinstance(t, dict) and "score" in t for t in tests)):
        bad.append("no score: neither at the top level nor on every test")
    if "score" in data and not number(data["score"]):
        bad.append("score is not a number")
    if "execution_time" in data and not number(data["execution_time"]):
        bad.append("execution_time is not a number of seconds")
    for key in ("output",):
        if key in data and not isinstance(data[key], str):
            bad.append(f"{key} is not a string")
    for key in ("visibility", "stdout_visibility"):
        if key in data and data[key] not in VISIBILITIES:
            bad.append(f"{key} is {data[key]!r}, not one of {', '.join(VISIBILITIES)}")
    for key in ("output_format", "test_output_format", "test_name_format"):
        if key in data and data[key] not in FORMATS:
            bad.append(f"{key} is {data[key]!r}, not one of {', '.join(FORMATS)}")
    if tests is None:
        return bad
    if not isinstance(tests, list):
        return bad + ["tests is not a list"]
    names = set()
    for i, t in enumerate(tests):
        where = f"tests[{i}]"
        if not isinstance(t, dict):
            bad.append(f"{where} is not an object")
            continue
        bad += [f"{where}: unknown key {k!r}" for k in sorted(set(t) - TEST_KEYS)]
        for key in ("score", "max_score"):
            if key in t and not number(t[key]):
                bad.append(f"{where}: {key} is not a number")
        if "status" in t and t["status"] not in STATUSES:
            bad.append(f"{where}: status is {t['status']!r}, not passed or failed")
        if "visibility" in t and t["visibility"] not in VISIBILITIES:
            bad.append(f"{where}: visibility is {t['visibility']!r}")
        for key in ("name", "output", "number"):
            if key in t and not isinstance(t[key], str):
                bad.append(f"{where}: {key} is not a string")
        if "tags" in t and not (isinstance(t["tags"], list) and all(isinstance(x, str) for x in t["tags"])):
            bad.append(f"{where}: tags is not a list of strings")
        if t.get("name") in names:
            bad.append(f"{where}: the name {t['name']!r} appears twice")
        names.add(t.get("name"))
        if number(t.get("score")) and number(t.get("max_score")) and t["score"] > t["max_score"]:
            bad.append(f"{where}: score above max_score")
    return bad
