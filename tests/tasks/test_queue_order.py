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


def test_a_move_reassigns_the_owner_s_own_ranks_and_writes_only_what_changes() -> None:
    assert reranked(OWN, "t3", "up") == [("t3", 4.0), ("t2", 7.0)]
    assert reranked(OWN, "t2", "down") == [("t3", 4.0), ("t2", 7.0)]
    assert reranked(OWN, "t3", "front") == [("t3", 1.0), ("t1", 4.0), ("t2", 7.0)]
    assert reranked(OWN, "t2", "back") == [("t3", 4.0), ("t4", 7.0), ("t2", 9.0)]


def test_a_move_past_the_end_changes_nothing() -> None:
    assert reranked(OWN, "t1", "up") == [] and reranked(OWN, "t1", "front") == []
    assert reranked(OWN, "t4", "down") == [] and reranked(OWN, "t4", "back") == []
    assert reranked([("t1", 3.0)], "t1", "back") == []
