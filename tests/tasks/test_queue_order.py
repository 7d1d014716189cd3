import math

from pixelforge.tasks.queue_order import Queued, reranked, serving_order


def queue(*owned: str) -> list[Queued]:
    """'a1', 'a2', 'b1' ...: task ids whose first letter is the owner."""
    return [Queued(task_id, task_id[0]) for task_id in owned]


def test_fair_serves_the_owners_round_robin_and_each_owner_first_in_first_out() -> None:
    waiting = queue("a1", "a2", "a3", "b1", "b2", "c1")
    assert serving_order(waiting, {}, "fair") == ["a1", "b1", "c1", "a2", "b2", "a3"]


def test_fair_starts_with_the_owner_served_least_recently() -> None:
    waiting = queue("a1", "a2", "b1", "c1", "c2")
    # a was served last, c before b
    assert serving_order(waiting, {"a": 9, "b": 5, "c": 4}, "fair") == ["c1", "b1", "a1", "c2", "a2"]


def test_owners_never_served_come_first_in_the_order_of_their_first_task_and_run_next_before_them() -> None:
    waiting = queue("c1", "b1", "a1", "b2")
    assert serving_order(waiting, {"c": 1}, "fair") == ["b1", "a1", "c1", "b2"]
    assert serving_order(waiting, {"c": 1, "a": -1}, "fair") == ["a1", "b1", "c1", "b2"]  # an admin's run next


def test_fifo_serves_by_rank_alone() -> None:
    waiting = queue("a1", "a2", "b1")
    assert serving_order(waiting, {"b": 0, "a": 5}, "fifo") == ["a1", "a2", "b1"]
    assert serving_order([], {}, "fair") == []


OWN = [("t1", 1.0), ("t2", 4.0), ("t3", 7.0), ("t4", 9.0)]


def test_up_and_down_swap_two_ranks() -> None:
    for policy in ("fair", "fifo"):
        assert reranked(OWN, "t3", "up", policy) == [("t3", 4.0), ("t2", 7.0)]
        assert reranked(OWN, "t2", "down", policy) == [("t3", 4.0), ("t2", 7.0)]


def test_fair_front_and_back_write_one_rank_halfway_to_the_neighbouring_task() -> None:
    assert reranked(OWN, "t3", "front", "fair") == [("t3", 0.0)]  # nobody before: one below the first
    assert reranked(OWN, "t3", "front", "fair", before=0.5) == [("t3", 0.75)]  # never past another's first
    assert reranked(OWN, "t2", "back", "fair") == [("t2", 10.0)]
    assert reranked(OWN, "t2", "back", "fair", after=10.0) == [("t2", 9.5)]


def test_fifo_front_and_back_share_out_the_owner_s_own_ranks_so_nobody_else_moves() -> None:
    assert reranked(OWN, "t3", "front", "fifo", before=0.5) == [("t3", 1.0), ("t1", 4.0), ("t2", 7.0)]
    assert reranked(OWN, "t2", "back", "fifo") == [("t3", 4.0), ("t4", 7.0), ("t2", 9.0)]


def test_a_gap_halved_to_nothing_shares_out_the_owner_s_own_ranks() -> None:
    own, before = [("t1", 1.0), ("t2", 2.0), ("t3", 3.0)], math.nextafter(1.0, 0)  # no float between the two
    assert reranked(own, "t3", "front", "fair", before=before) == [("t3", 1.0), ("t1", 2.0), ("t2", 3.0)]
    after = math.nextafter(3.0, 4)
    assert reranked(own, "t1", "back", "fair", after=after) == [("t2", 1.0), ("t3", 2.0), ("t1", 3.0)]


def test_a_move_past_the_end_changes_nothing() -> None:
    assert reranked(OWN, "t1", "up", "fair") == [] and reranked(OWN, "t1", "front", "fair") == []
    assert reranked(OWN, "t4", "down", "fifo") == [] and reranked(OWN, "t4", "back", "fair") == []
    assert reranked([("t1", 3.0)], "t1", "back", "fifo") == []
