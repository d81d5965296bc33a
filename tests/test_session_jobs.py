"""Per-visitor job control: Stop ends only your run, a time cap ends any run, leaving the page
ends your runs and deletes your files."""
from types import SimpleNamespace

from demo.jobs import SessionJobs


def visitor(name):
    return SimpleNamespace(session_hash=name)


def test_stop_is_per_visitor_and_time_cap_sets_the_flag():
    jobs = SessionJobs("test", max_seconds=0.3)
    alice, bob = visitor("alice"), visitor("bob")
    alice_flag, bob_flag = jobs.start(alice), jobs.start(bob)
    assert jobs.stop(alice) and alice_flag.is_set() and not bob_flag.is_set()
    assert "Stop was pressed" == alice_flag.stop_reason()
    assert bob_flag.wait(3) and bob_flag.timed_out and "time cap" in bob_flag.stop_reason()
    jobs.finish(alice, alice_flag)
    jobs.finish(bob, bob_flag)
    assert jobs.running() == 0 and not jobs.stop(alice)


def test_a_new_run_replaces_the_visitors_previous_one():
    jobs = SessionJobs("test", max_seconds=60)
    first = jobs.start(visitor("carol"))
    second = jobs.start(visitor("carol"))
    assert first.is_set() and not second.is_set()
    jobs.finish(visitor("carol"), first)  # the old run ending does not unregister the new one
    assert jobs.running() == 1
    jobs.finish(visitor("carol"), second)


def test_session_end_stops_runs_and_runs_cleanups():
    jobs = SessionJobs("test", max_seconds=60)
    cleaned = []
    SessionJobs.cleanups.append(lambda request: cleaned.append(request.session_hash))
    try:
        flag = jobs.start(visitor("dave"))
        other = jobs.start(visitor("erin"))
        SessionJobs.on_session_end(visitor("dave"))
        assert flag.is_set() and flag.visitor_left and not other.is_set() and "dave" in cleaned
    finally:
        SessionJobs.cleanups.pop()
        for name, f in (("dave", flag), ("erin", other)):
            jobs.finish(visitor(name), f)


def test_the_app_stops_a_visitors_jobs_when_they_leave():
    from demo import _session_ended, build_demo

    app = build_demo()
    unload_fns = [dep.fn for dep in app.fns.values() if any(target[1] == "unload" for target in dep.targets)]
    assert _session_ended in unload_fns
