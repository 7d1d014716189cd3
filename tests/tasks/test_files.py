"""File stems: injective over task ids, safe and short enough for any file system."""

from __future__ import annotations

import re

from pixelforge.tasks.files import MAX_STEM, file_stem

TRICKY = [".", "..", "_", "-", "__", "_2e_", "sprite.v1", "sprite:v1", "sprite_v1", "sprite-v1", "a_d", "a.",
          "task(txt2img-abc)", "task_txt2img-abc_", "x~0123", "x" * 128, "." * 128, ":" * 127 + ".",
          "é", "_e9_", "a/b", "a\\b"]


def test_stems_are_distinct_safe_and_short() -> None:
    stems = [file_stem(task_id) for task_id in TRICKY]
    assert len(set(stems)) == len(stems)
    assert all(re.fullmatch(r"[A-Za-z0-9_~-]{1,200}", stem) for stem in stems)
    assert all(len(stem) <= MAX_STEM for stem in stems)
    assert file_stem("task(txt2img-abc)") == "task_28_txt2img-abc_29_"  # still readable
