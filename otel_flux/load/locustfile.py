"""Locust users of the load scenarios; ``otel-flux load`` runs this file headless.

Each simulated client sends its own address in ``X-Forwarded-For`` and keeps the
HTTP statuses it received, in order. When the test stops, the statuses of every
client are written as JSON to ``--flux-outcomes``, where the security checks of
``otel_flux.load.checks`` read them.
"""

from __future__ import annotations

import itertools
import json
import random
import time
from collections.abc import Iterator
from typing import Any, ClassVar

from locust import FastHttpUser, events, task
from locust.env import Environment

from otel_flux.demo.users import DEMO_USERS
from otel_flux.load.addresses import Role, client_address
from otel_flux.load.pacing import Schedule

_LOGIN = "/api/auth/login"
_FILE_IDS = ("1", "2", "3", "4")
_ACCOUNTS = tuple(DEMO_USERS.items())

# Statuses by client address, in the order received; 0 is a connection error.
_statuses: dict[str, dict[str, list[int]]] = {"visitors": {}, "attackers": {}, "bots": {}}
_indices: dict[Role, Iterator[int]] = {role: itertools.count() for role in Role}
_run_tag = 0


def _add_arguments(parser: Any) -> None:
    group = parser.add_argument_group("otel_flux scenario")
    group.add_argument("--flux-run-tag", type=int, default=0, help="tag in client addresses")
    group.add_argument("--flux-outcomes", default="", help="JSON file for per-client statuses")
    group.add_argument("--flux-visitors", type=int, default=0, help="legitimate users")
    group.add_argument("--flux-visitor-pace", type=float, default=1.0, help="requests/s per user")
    group.add_argument("--flux-attackers", type=int, default=0, help="attackers or bots")
    group.add_argument("--flux-attacker-pace", type=float, default=1.0, help="requests/s each")
    group.add_argument(
        "--flux-max-offset", type=float, default=60.0, help="maximum start offset, seconds"
    )


def _configure(environment: Environment, **kwargs: Any) -> None:
    global _run_tag
    options = environment.parsed_options
    if options is None:
        return
    _run_tag = options.flux_run_tag
    _Client.max_offset = options.flux_max_offset
    Visitor.fixed_count = options.flux_visitors
    Visitor.pace = options.flux_visitor_pace
    for attacker in (BruteForceAttacker, Bot):
        attacker.fixed_count = options.flux_attackers
        attacker.pace = options.flux_attacker_pace


def _write_outcomes(environment: Environment, **kwargs: Any) -> None:
    options = environment.parsed_options
    if options is None or not options.flux_outcomes:
        return
    with open(options.flux_outcomes, "w", encoding="utf-8") as out:
        json.dump({"run_tag": _run_tag, **_statuses}, out)


# Locust's EventHook.add_listener has no type annotations.
events.init_command_line_parser.add_listener(_add_arguments)  # type: ignore[no-untyped-call]
events.init.add_listener(_configure)  # type: ignore[no-untyped-call]
events.test_stop.add_listener(_write_outcomes)  # type: ignore[no-untyped-call]


class _Client(FastHttpUser):
    """A client with its own address that sends ``pace`` requests per second."""

    abstract = True
    role: ClassVar[Role] = Role.VISITOR
    group: ClassVar[str] = "visitors"
    pace: ClassVar[float] = 1.0
    max_offset: ClassVar[float] = 60.0

    def __init__(self, environment: Environment) -> None:
        super().__init__(environment)
        self.index = next(_indices[self.role])
        self.address = client_address(_run_tag, self.role, self.index)
        self.headers = {"X-Forwarded-For": self.address}
        self.statuses: list[int] = []
        _statuses[self.group][self.address] = self.statuses
        self.schedule = Schedule(1 / self.pace)

    def on_start(self) -> None:
        # Locust creates every user within a second or two. A random offset
        # within one request interval spreads the users' requests evenly, and
        # the schedule keeps that phase for the rest of the run.
        offset = random.random() * min(self.schedule.interval_s, self.max_offset)  # noqa: S311
        # Locust patches time.sleep to yield to the other users.
        time.sleep(offset)
        self.schedule.start()

    def wait_time(self) -> float:
        return self.schedule.wait_s()


class Visitor(_Client):
    """A legitimate user: reads files, checks health and logs in with its password."""

    role = Role.VISITOR
    group = "visitors"

    def _record(self, status: int) -> None:
        self.statuses.append(status)

    @task(6)
    def get_file(self) -> None:
        file_id = _FILE_IDS[len(self.statuses) % len(_FILE_IDS)]
        path = f"/api/files/{file_id}"
        response = self.client.get(path, headers=self.headers, name="/api/files/{file_id}")
        self._record(response.status_code or 0)

    @task(2)
    def list_files(self) -> None:
        self._record(self.client.get("/api/files", headers=self.headers).status_code or 0)

    @task(1)
    def health(self) -> None:
        self._record(self.client.get("/health", headers=self.headers).status_code or 0)

    @task(1)
    def login(self) -> None:
        email, password = _ACCOUNTS[self.index % len(_ACCOUNTS)]
        body = {"email": email, "password": password}
        response = self.client.post(_LOGIN, json=body, headers=self.headers)
        self._record(response.status_code or 0)


class BruteForceAttacker(_Client):
    """Sprays password guesses; 401, 403 and 429 are the expected statuses.

    Each attempt names a different made-up account, so no account reaches the
    failure threshold and only the per-address check can stop the attacker.
    Guesses against one shared account are stopped sooner, by the account lock.
    """

    role = Role.ATTACKER
    group = "attackers"

    @task
    def guess(self) -> None:
        attempt = len(self.statuses)
        body = {"email": f"user{self.index}-{attempt}@example.com", "password": "guess"}
        with self.client.post(
            _LOGIN,
            json=body,
            headers=self.headers,
            name="attack: POST /api/auth/login",
            catch_response=True,
        ) as response:
            status = response.status_code or 0
            self.statuses.append(status)
            if status in (401, 403, 429):
                response.success()


class Bot(_Client):
    """Fetches files faster than the rate limit allows; 200, 403 and 429 are expected."""

    role = Role.BOT
    group = "bots"

    @task
    def scrape(self) -> None:
        file_id = _FILE_IDS[len(self.statuses) % len(_FILE_IDS)]
        with self.client.get(
            f"/api/files/{file_id}",
            headers=self.headers,
            name="bot: /api/files/{file_id}",
            catch_response=True,
        ) as response:
            status = response.status_code or 0
            self.statuses.append(status)
            if status in (200, 403, 429):
                response.success()
