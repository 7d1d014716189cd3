from pixelforge.tasks.model import Phase
from pixelforge.tasks.progress import RUNNING_CAP, ProgressTracker, queued_progress, step_fraction


def test_step_fraction_is_a1111s_formula() -> None:
    assert step_fraction(0, 2, 5, 10) == 0.25
    assert step_fraction(1, 2, 5, 10) == 0.75
    assert step_fraction(2, 2, 10, 10) == 1.0
    assert step_fraction(0, 0, 1, 1) == 0.0


def test_eta_ignores_the_warm_up_step_and_adds_remaining_decodes() -> None:
    tracker = ProgressTracker(job_count=2, steps=10)
    tracker.start_job(0)
    assert tracker.eta() is None  # nothing measured yet: no guess
    tracker.record_step(1, 5.0)  # warm-up, far slower than the rest
    assert tracker.eta() is None  # one step is warm-up only: no ETA from it (it would read minutes)
    for step in range(2, 6):
        tracker.record_step(step, 0.1)
    # 5 steps left in job 1, 10 in job 2, at 0.1 s; 2 decodes predicted as one step each.
    assert tracker.eta() == 15 * 0.1 + 2 * 0.1
    tracker.record_decode(0.5)
    assert tracker.eta() == 15 * 0.1 + 2 * 0.5


def test_bar_never_shows_done_before_completion() -> None:
    tracker = ProgressTracker(job_count=1, steps=4)
    tracker.start_job(0)
    for step in range(1, 5):
        tracker.record_step(step, 0.1)
    tracker.phase = Phase.DECODE
    running = tracker.snapshot(elapsed_s=1.0)
    assert running.progress == RUNNING_CAP
    assert running.textinfo == "decoding…"
    done = tracker.completed(elapsed_s=1.2)
    assert (done.progress, done.eta_s, done.phase) == (1.0, 0.0, Phase.DONE)


def test_textinfo_names_the_phase_and_job() -> None:
    tracker = ProgressTracker(job_count=3, steps=20)
    assert tracker.snapshot(0).textinfo == "Loading model…"
    tracker.start_job(1)
    tracker.record_step(4, 0.2)
    assert tracker.snapshot(0).textinfo == "Job 2/3, step 4/20"
    assert queued_progress(2, 5).textinfo == "In queue: 2/5"


def test_a_decode_measured_by_an_earlier_task_is_the_first_guess() -> None:
    tracker = ProgressTracker(job_count=1, steps=10, decode_prior_s=2.0)
    tracker.start_job(0)
    for step in range(1, 4):
        tracker.record_step(step, 0.1)
    assert tracker.eta() == 7 * 0.1 + 2.0  # not one step's 0.1 for the decode
    tracker.record_decode(1.0)  # this task's own measurement wins once it exists
    assert tracker.eta() == 7 * 0.1 + 1.0


def test_failed_progress_says_so_and_has_no_eta() -> None:
    from pixelforge.tasks.model import Phase
    from pixelforge.tasks.progress import ProgressTracker

    tracker = ProgressTracker(job_count=1, steps=4)
    failed = tracker.failed(1.5, "out of memory")
    assert (failed.phase, failed.textinfo, failed.eta_s, failed.elapsed_s) == (Phase.LOAD, "Failed: out of memory",
                                                                             None, 1.5)
