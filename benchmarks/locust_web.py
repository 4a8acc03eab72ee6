"""The locust users of :mod:`benchmarks.bench_web_load` (run by it, not by
hand): each takes the session of its own account (logged in once by the
benchmark just before the run), then ranks a waiting child of its agency
(``GET /api/rank``), waits 1 s, and again, until locust stops it.

The plan (per account: its session cookie, CSRF token and its agency's
waiting children) is the JSON file named by ``MATCHER_LOAD_PLAN``."""

from __future__ import annotations

import itertools
import json
import os
import random
from pathlib import Path

from locust import HttpUser, constant, task

PLAN = json.loads(Path(os.environ["MATCHER_LOAD_PLAN"]).read_text(encoding="utf-8"))
_NEXT = itertools.count()


class FamilyFinder(HttpUser):
    wait_time = constant(1)

    def on_start(self) -> None:
        me = PLAN["users"][next(_NEXT) % len(PLAN["users"])]
        self.children = me["children"]
        self.random = random.Random(me["username"])
        self.client.cookies.set(PLAN["cookie"], me["session"])
        self.csrf = me["csrf_token"]

    @task
    def rank(self) -> None:
        child = self.random.choice(self.children)
        self.client.get("/api/rank", params={"child": child, "top": "10"}, headers={"X-CSRF-Token": self.csrf},
                        name="/api/rank")
