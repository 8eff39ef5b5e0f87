"""The workshop's active scenario, read from the shared control file.

`stackctl workshop scenario NAME --for D` writes /control/scenario.json
({"name": ..., "until": unix seconds or null}); every app reads it here on
each request (re-read only when the file's mtime changes), so a switch takes
effect at once and a scenario whose `until` has passed is baseline again
without anyone writing the file.
"""

import json
import os
import time

PATH = os.environ.get("WORKSHOP_SCENARIO_FILE", "/control/scenario.json")
_cache = {"mtime": None, "doc": {}}


def active() -> str:
    try:
        mtime = os.stat(PATH).st_mtime_ns
    except OSError:
        return "baseline"
    if mtime != _cache["mtime"]:
        try:
            with open(PATH, encoding="utf-8") as f:
                _cache["doc"] = json.load(f)
        except (OSError, ValueError):
            _cache["doc"] = {}
        _cache["mtime"] = mtime
    doc = _cache["doc"]
    until = doc.get("until")
    if until is not None and time.time() >= until:
        return "baseline"
    return doc.get("name") or "baseline"
