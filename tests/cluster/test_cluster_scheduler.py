"""The cluster's scheduling rules, on the scheduler alone (no Ray, no sockets)."""

from __future__ import annotations

import itertools

from worker.cluster.scheduler import ClusterJob, Scheduler

_seq = itertools.count(1)


def job(artist: str, model: str = "builtin", kind: str = "generate") -> ClusterJob:
    n = next(_seq)
    return ClusterJob(uid=f"u{n}", artist=artist, identity=artist.encode(), id=f"r{n}",
                      kind=kind, model=model, body={}, seq=n)


def sched(*nodes: tuple[str, list[str]], **kw) -> Scheduler:
    s = Scheduler(**kw)
    for name, models in nodes:
        s.node_up(name, models, trainable=models, warm=[], gpu=False)
    return s


def run_one(s: Scheduler) -> ClusterJob:
    picked = s.next_assignment()
    assert picked is not None
    j, _ = picked
    s.finished(j, model_loaded=True)
    return j


def test_a_single_image_overtakes_a_batch_of_64():
    s = sched(("n0", ["builtin"]))
    batch = [job("anna") for _ in range(64)]
    for j in batch:
        assert s.add(j)
    first = s.next_assignment()[0]  # anna's first image is running
    single = job("ben")
    s.add(single)
    assert s.positions()[single.uid] == 0  # next in line, ahead of 63 of anna's
    s.finished(first, True)
    assert run_one(s) is single


def test_backlogged_artists_take_turns_and_keep_their_order():
    s = sched(("n0", ["builtin"]))
    jobs = {a: [job(a) for _ in range(3)] for a in ("a", "b", "c")}
    for a in "abc":
        for j in jobs[a]:
            s.add(j)
    order = [run_one(s) for _ in range(9)]
    assert [j.artist for j in order] == list("abcabcabc")
    for a in "abc":
        assert [j for j in order if j.artist == a] == jobs[a]
    assert s.next_assignment() is None


def test_positions_follow_the_dispatch_order():
    s = sched(("n0", ["builtin"]))
    for a in ("a", "a", "b", "a", "c"):
        s.add(job(a))
    predicted = sorted(s.positions().items(), key=lambda kv: kv[1])
    ran = [run_one(s).uid for _ in range(5)]
    assert [uid for uid, _ in predicted] == ran


def test_live_previews_go_first():
    s = sched(("n0", ["builtin", "live"]))
    for _ in range(5):
        s.add(job("a"))
    live = job("b", model="live")
    s.add(live)
    assert s.positions()[live.uid] == 0
    assert run_one(s) is live


def test_warm_nodes_are_preferred_and_models_go_where_they_are_offered():
    s = sched(("n0", ["builtin", "sd"]), ("n1", ["builtin", "sd"]), ("n2", ["builtin"]))
    s.nodes["n1"].warm.add("sd")
    j = job("a", model="sd")
    s.add(j)
    assert s.next_assignment()[1].name == "n1"
    other = job("b", model="sd")
    s.add(other)  # n1 is busy: the cold n0 (n2 does not offer sd)
    assert s.next_assignment()[1].name == "n0"


def test_training_keeps_a_node_for_generation_and_prefers_a_gpu():
    s = sched(("n0", ["builtin"]), ("n1", ["builtin"]))
    s.nodes["n1"].gpu = True
    t1, t2, g = job("a", kind="train"), job("b", kind="train"), job("c")
    for j in (t1, t2, g):
        s.add(j)
    first = s.next_assignment()
    assert first[0] is t1 and first[1].name == "n1"
    second = s.next_assignment()  # t2 may not take the last node: c's image goes
    assert second[0] is g
    assert s.next_assignment() is None


def test_a_job_whose_node_died_goes_first_and_the_node_leaves():
    s = sched(("n0", ["builtin"]), ("n1", ["builtin"]))
    jobs = [job("a") for _ in range(3)] + [job("b")]
    for j in jobs:
        s.add(j)
    lost, node = s.next_assignment()
    assert s.node_down(node.name) == lost.uid
    s.add(lost, front=True)
    again, other = s.next_assignment()
    assert again is lost and other.name != node.name and again.run == 2
    assert s.next_assignment() is None  # the dead node takes nothing


def test_per_artist_limit():
    s = Scheduler(per_artist_limit=2)
    assert s.add(job("a")) and s.add(job("a"))
    assert not s.add(job("a"))
    assert s.add(job("b"))
