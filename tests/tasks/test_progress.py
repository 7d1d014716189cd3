from pixelforge.tasks.model import Phase, TaskProgress
from pixelforge.tasks.progress import RUNNING_CAP, ProgressTracker, combined_progress, queued_progress, step_fraction


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


def job(step: int, steps: int, eta_s: float | None, elapsed_s: float, phase: Phase = Phase.DENOISE) -> TaskProgress:
    return TaskProgress(phase=phase, step=step, steps=steps, progress=step / steps, eta_s=eta_s, elapsed_s=elapsed_s)


def test_jobs_on_several_workers_add_up_to_one_bar_and_the_eta_spreads_the_waiting_jobs() -> None:
    running = {3: job(5, 10, eta_s=4.0, elapsed_s=6.0), 1: job(8, 10, eta_s=1.0, elapsed_s=9.0)}
    progress = combined_progress(running, done=1, job_count=6, elapsed_s=12.0)
    assert progress.progress == (1 + 0.5 + 0.8) / 6
    # the longest job left (4 s), then 3 waiting jobs on 2 workers: 2 rounds of the slowest whole job (10 s)
    assert progress.eta_s == 4.0 + 2 * 10.0
    assert (progress.job_no, progress.job_count, progress.step, progress.steps) == (1, 6, 8, 10)  # job 1 shown
    assert progress.textinfo == "Jobs: 1/6 done, 2 running, step 8/10" and progress.elapsed_s == 12.0


def test_combined_progress_has_no_eta_until_every_running_job_has_one_and_never_shows_done() -> None:
    assert combined_progress({0: job(1, 10, None, 1.0)}, done=0, job_count=2, elapsed_s=1.0).eta_s is None
    assert combined_progress({0: job(10, 10, 0.0, 1.0)}, done=1, job_count=2, elapsed_s=1.0).progress == RUNNING_CAP
    between = combined_progress({}, done=1, job_count=2, elapsed_s=1.0)
    assert (between.progress, between.eta_s, between.textinfo) == (0.5, None, "Jobs: 1/2 done, 0 running")


def test_a_tracker_of_one_job_of_a_split_task_counts_that_job_alone() -> None:
    tracker = ProgressTracker(job_count=1, steps=4, first_job=3)
    tracker.start_job(3)
    tracker.record_step(2, 0.1)
    assert (tracker.job_no, tracker.snapshot(1.0).progress) == (0, 0.5)
