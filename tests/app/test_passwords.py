"""The registration password policy (NIST SP 800-63B 5.1.1.2), as a function and over HTTP."""

from __future__ import annotations

from typing import Any

import pytest

from app import passwords
from tests.app.support import login, new_username, run_on_a_new_loop

POLICY_CASES = [
    ("1234567", "alice", "at least 8 characters"),
    ("x" * 257, "alice", "at most 256 characters"),
    ("ten nul\x00\x00\x00", "alice", "control characters"),
    ("\x00" * 10, "alice", "control characters"),
    ("line\nbreak here", "alice", "control characters"),
    ("escape\x1b[31m red", "alice", "control characters"),
    ("c1 control \x85 here", "alice", "control characters"),
    ("alice-2024-spring", "alice", "must not contain the username"),
    ("my name is ALICE.", "Alice", "must not contain the username"),
    ("password", "alice", "most commonly used"),
    ("12345678", "alice", "most commonly used"),
    ("PassWord1", "alice", "most commonly used"),
    ("qwertyuiop", "alice", "most commonly used"),
    ("iloveyou", "alice", "most commonly used"),
    # Repetition, spaces and invisible characters (the issue's probes).
    ("aaaaaaaa", "alice", "at least 3 different characters"),
    ("x" * 256, "alice", "at least 3 different characters"),
    ("abababababab", "alice", "at least 3 different characters"),
    ("AaAaAaAa", "alice", "at least 3 different characters"),  # case-folded: one letter
    ("        ", "alice", "only spaces"),
    (" \u00a0\u2003 \u00a0\u2003 \u00a0", "alice", "only spaces"),  # three kinds of space: still only spaces
    ("\u200b" * 8, "alice", "invisible formatting"),
    ("pass\u200bword9", "alice", "invisible formatting"),
    ("right\u200eto\u200fleft", "alice", "invisible formatting"),
]


@pytest.mark.parametrize(("password", "username", "why"), POLICY_CASES)
def test_policy_refuses_with_a_specific_reason(password: str, username: str, why: str) -> None:
    problem = passwords.problem(password, username)
    assert problem is not None and why in problem


@pytest.mark.parametrize(
    "password",
    [
        "a long enough secret",
        "correct horse battery staple",
        "xy1" * 85,
        "ünïcödé pässwörd ✓",
        "tab-free but 8+",
        "abcabcab",  # exactly 3 different characters
        "  spaced  out  ",
    ],
)
def test_policy_accepts_long_uncommon_passwords(password: str) -> None:
    assert passwords.problem(password, "alice") is None


def test_the_shipped_list_is_the_common_passwords_corpus() -> None:
    common = passwords.common_passwords()
    assert len(common) >= 10_000
    assert {"password", "12345678", "qwerty", "letmein", "sunshine"} <= common
    # Only entries that could pass the other rules matter; thousands of them do.
    assert sum(1 for p in common if len(p) >= passwords.MIN_LENGTH) >= 5_000


@pytest.mark.services
@pytest.mark.parametrize(("password", "username", "why"), POLICY_CASES)
def test_register_answers_422_with_the_reason(client: Any, password: str, username: str, why: str) -> None:
    username = f"{username}-{new_username()}" if username else new_username()
    if "username" in why:
        password = f"x {username} x"
    response = client.post("/auth/register", json={"username": username, "password": password})
    assert response.status_code == 422, response.text
    (issue,) = response.json()["detail"]
    assert issue["loc"] == ["body", "password"]
    assert issue["type"] in ("password_policy", "string_too_short", "string_too_long")
    if issue["type"] == "password_policy":
        assert why in issue["msg"]
    # Never echoed ("password" itself is a word of the message).
    assert password not in response.text or password == "password"


@pytest.mark.services
def test_an_acceptable_password_registers_and_logs_in(client: Any) -> None:
    username = new_username()
    response = client.post("/auth/register", json={"username": username, "password": "ünïcödé pässwörd ✓"})
    assert response.status_code == 201
    assert login(client, username, "ünïcödé pässwörd ✓")


def test_hashing_runs_off_the_event_loop_in_a_bounded_pool(monkeypatch: pytest.MonkeyPatch) -> None:
    import asyncio
    import threading
    import time

    from app import security

    running, peak, threads = 0, 0, set()
    lock = threading.Lock()

    def slow_verify(stored_hash: str | None, password: str) -> bool:
        nonlocal running, peak
        with lock:
            running += 1
            peak = max(peak, running)
            threads.add(threading.current_thread().name)
        time.sleep(0.05)  # long enough for the calls to overlap if the pool let them
        with lock:
            running -= 1
        return True

    monkeypatch.setattr(security, "verify_password", slow_verify)

    async def many() -> list[bool]:
        return await asyncio.gather(
            *(security.verify_password_async("h", "p") for _ in range(4 * security.HASHING_THREADS))
        )

    assert run_on_a_new_loop(many()) == [True] * (4 * security.HASHING_THREADS)
    assert peak == security.HASHING_THREADS, peak
    assert threads and all(name.startswith("argon2") for name in threads), threads


def test_hashing_threads_run_at_a_lower_priority_than_the_rest_of_the_process() -> None:
    import os
    import threading

    from app import security

    def niceness() -> int:
        return os.getpriority(os.PRIO_PROCESS, threading.get_native_id())

    caller = niceness()
    hashing = security._hashing.submit(niceness).result(timeout=10)
    assert hashing == min(19, caller + security.HASHING_NICE) and hashing > caller
    assert niceness() == caller  # the calling thread (the event loop's, in the app) keeps its own


@pytest.mark.parametrize(
    ("password", "message"),
    [
        ("1234567", "the password must be at least 8 characters long"),
        ("x" * 257, "the password must be at most 256 characters long"),
        ("ten nul\x00\x00\x00", "the password must not contain control characters"),
        ("pass\u200bword9",
         "the password must not contain invisible formatting characters (zero-width or direction marks)"),
        ("        ", "the password must not be only spaces"),
        ("abababab", "the password must use at least 3 different characters"),
        ("my name is ALICE.", "the password must not contain the username"),
        ("password", "the password is one of the most commonly used passwords; choose another"),
    ],
)
def test_each_rule_gives_its_exact_message(password: str, message: str) -> None:
    # The message is the API's answer (422 detail): pinned word for word.
    assert passwords.problem(password, "Alice") == message


def test_the_boundaries_are_inclusive() -> None:
    assert passwords.problem("xy1" * 2 + "zq", "alice") is None  # exactly 8
    assert passwords.problem("xyz1" * 64, "alice") is None  # exactly 256
    assert passwords.problem("no username at all", "") is None
