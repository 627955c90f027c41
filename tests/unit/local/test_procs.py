"""Pid ownership: a recorded pid is only ever signalled while it is still the same process."""

import os
import signal
import socket
import subprocess
import sys
import time

import pytest

from local import procs
from local.procs import Identity

RECORDED = Identity(pid=4242, start_ticks=1000, cmdline=("redis-server", "--port", "6379"))


def test_same_process_when_pid_start_and_command_match():
    assert procs.same_process(RECORDED, Identity(4242, 1000, ("redis-server", "--port", "6379")))


@pytest.mark.parametrize(
    "current",
    [
        None,  # no such process any more
        Identity(4243, 1000, RECORDED.cmdline),  # another pid altogether
        Identity(4242, 2000, RECORDED.cmdline),  # pid recycled: same number, later start
        Identity(4242, 1000, ("sleep", "100")),  # different program under the same pid and start
    ],
)
def test_anything_else_is_not_the_recorded_process(current):
    assert not procs.same_process(RECORDED, current)


def test_a_process_on_its_way_out_is_judged_by_start_time():
    # /proc shows an empty command line for an exiting process; the start time still identifies it.
    assert procs.same_process(RECORDED, Identity(4242, 1000, ()))


def test_a_record_taken_right_after_exec_is_judged_by_start_time():
    assert procs.same_process(Identity(4242, 1000, ()), RECORDED)
    assert not procs.same_process(Identity(4242, 999, ()), RECORDED)


def test_identify_records_the_command_line_of_a_fresh_process():
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"], start_new_session=True)
    try:
        assert procs.identify(child.pid).cmdline == (sys.executable, "-c", "import time; time.sleep(60)")
    finally:
        child.kill()
        child.wait()


def test_identity_json_round_trip_and_bad_records():
    assert Identity.from_json(RECORDED.to_json()) == RECORDED
    with pytest.raises(ValueError, match="malformed"):
        Identity.from_json({"pid": 1, "start_ticks": "x", "cmdline": []})


def test_live_child_is_owned_until_it_dies_and_a_zombie_counts_as_gone():
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"], start_new_session=True)
    try:
        identity = procs.identify(child.pid)
        assert identity.cmdline[-1] == "import time; time.sleep(60)"
        assert procs.owned(identity)
        assert not procs.owned(Identity(child.pid, identity.start_ticks + 1, identity.cmdline))
        os.kill(child.pid, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while procs.is_running(child.pid) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert not procs.is_running(child.pid)
        assert not procs.owned(identity)
    finally:
        child.kill()
        child.wait()


def test_stop_group_stops_the_whole_group():
    leader = subprocess.Popen(
        [sys.executable, "-c", "import subprocess,sys,time; subprocess.Popen(['sleep','60']); time.sleep(60)"],
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 10
        while len(procs.group_members(leader.pid)) < 2 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert len(procs.group_members(leader.pid)) == 2
        procs.stop_group(leader.pid, timeout=5)
        assert procs.group_members(leader.pid) == []
        assert not procs.is_running(leader.pid)
    finally:
        leader.kill()
        leader.wait()


def test_free_port_is_free():
    port = procs.free_port()
    assert procs.port_is_free(port)
    assert not procs.port_answers(port)


def test_free_ports_lie_below_the_ephemeral_range_and_are_not_handed_out_twice():
    low, high = procs.ephemeral_range()
    assert 1024 < low <= high
    ports = [procs.free_port() for _ in range(50)]
    # An outgoing connection's source port is drawn from [low, high]: none of these can be taken that way.
    assert all(max(1024, low // 2) <= port < low for port in ports)
    assert len(set(ports)) == len(ports)


def test_free_port_passes_over_a_port_a_server_holds(monkeypatch):
    with socket.socket() as held, socket.socket() as spare:
        held.bind(("127.0.0.1", 0))
        held.listen()
        spare.bind(("127.0.0.1", 0))
        taken, free = held.getsockname()[1], spare.getsockname()[1]
        spare.close()
        monkeypatch.setattr(procs, "ephemeral_range", lambda: (40000, 40000))
        draws = iter([taken, taken, free])
        monkeypatch.setattr(procs.random, "randrange", lambda first, last: next(draws))
        assert procs.free_port() == free


def test_a_range_starting_low_leaves_the_ports_above_it_and_one_spanning_all_the_kernels_pick(monkeypatch):
    monkeypatch.setattr(procs, "ephemeral_range", lambda: (1024, 60999))
    above = [procs.free_port() for _ in range(20)]
    assert all(61000 <= port <= 65535 for port in above)
    monkeypatch.setattr(procs, "ephemeral_range", lambda: (1024, 65000))
    picked = procs.free_port()
    assert procs.port_is_free(picked) and not procs.port_answers(picked)


def test_the_ephemeral_range_is_read_from_the_kernel_and_defaults_to_linux_s(tmp_path, monkeypatch):
    range_file = tmp_path / "ip_local_port_range"
    range_file.write_text("40000\t50000\n")
    monkeypatch.setattr(procs, "EPHEMERAL_RANGE_FILE", range_file)
    assert procs.ephemeral_range() == (40000, 50000)
    range_file.write_text("garbage\n")
    assert procs.ephemeral_range() == (32768, 60999)
    monkeypatch.setattr(procs, "EPHEMERAL_RANGE_FILE", tmp_path / "missing")
    assert procs.ephemeral_range() == (32768, 60999)


def test_free_port_says_so_when_no_port_is_free(monkeypatch):
    monkeypatch.setattr(procs, "port_is_free", lambda port: False)
    with pytest.raises(procs.ProcessError, match="no free port on 127.0.0.1 between"):
        procs.free_port()


def test_process_tree_holds_the_descendants_of_a_session_leader(tmp_path) -> None:
    import signal
    import sys

    script = ("import subprocess, sys, time; "
              "subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(30)']); time.sleep(30)")
    proc = procs.spawn([sys.executable, "-c", script], log_path=tmp_path / "tree.log")
    try:
        procs.wait_for(lambda: len(procs.process_tree(proc.pid)) >= 2, what="the child", timeout=15)
        tree = procs.process_tree(proc.pid)
        assert tree[0] == proc.pid and len(tree) == 2
    finally:
        procs.stop_group(proc.pid, first=signal.SIGKILL, timeout=5)
        proc.wait(5)
