"""The dataset builder on a handful of real emoji. Needs Debian's fonts-noto-color-emoji (the test set-up
installs it) and the `emoji` package (the `train` extra)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from training.build_sprite_dataset import (
    CLDR_DIR,
    FONT_PATH,
    build,
    captions_for,
    concept_of,
    fully_qualified,
    glyph_to_sprite,
    is_held_out,
    load_cldr,
    load_font,
    main,
    render_glyph,
)


@pytest.fixture(scope="module")
def font():
    assert FONT_PATH.is_file(), "install the font: apt-get install -y fonts-noto-color-emoji"
    return load_font()


def assert_sprite(pixels: np.ndarray) -> None:
    assert pixels.shape == (32, 32, 4) and pixels.dtype == np.uint8
    assert set(np.unique(pixels[..., 3])) == {0, 255}
    assert not pixels[pixels[..., 3] == 0].any()


def test_single_emoji_becomes_a_centred_binary_alpha_sprite(font) -> None:
    glyph = render_glyph(font, "\N{RED APPLE}")
    assert glyph is not None and glyph.mode == "RGBA"
    sprite = glyph_to_sprite(glyph)
    assert_sprite(sprite)
    opaque = sprite[..., 3] > 0
    rows, cols = np.flatnonzero(opaque.any(1)), np.flatnonzero(opaque.any(0))
    assert rows[0] == 0 or cols[0] == 0  # cropped to the glyph: its longer side spans the sprite
    assert rows[-1] == 31 or cols[-1] == 31
    red, green = sprite[opaque][:, 0].mean(), sprite[opaque][:, 1].mean()
    assert red > 2 * green  # a red apple is red


def test_zwj_sequence_drawn_as_one_glyph_is_kept(font) -> None:
    family = "\N{MAN}\u200d\N{WOMAN}\u200d\N{GIRL}"
    glyph = render_glyph(font, family)
    assert glyph is not None
    assert glyph.width < 1.5 * render_glyph(font, "\N{MAN}").width


def test_tofu_and_multi_glyph_renders_are_dropped(font) -> None:
    assert render_glyph(font, "\U0010fffd") is None  # a code point no emoji font maps: .notdef
    assert render_glyph(font, "\N{RED APPLE}\N{CAT FACE}") is None  # two glyphs side by side


def test_captions_names_aliases_and_flags() -> None:
    data = fully_qualified()
    assert captions_for("\N{RED APPLE}", data["\N{RED APPLE}"]) == ["red apple", "apple"]
    japan = "\U0001f1ef\U0001f1f5"
    assert {"japan", "flag of japan", "japan flag"} <= set(captions_for(japan, data[japan]))


@pytest.fixture(scope="module")
def cldr():
    assert CLDR_DIR.is_dir(), "install CLDR: apt-get install -y unicode-cldr-core"
    return {language: load_cldr(language) for language in ("en", "zh")}


def test_captions_add_cldr_english_and_chinese_names_and_keywords(cldr) -> None:
    data = fully_qualified()
    apple = captions_for("\N{RED APPLE}", data["\N{RED APPLE}"], cldr)
    assert apple[0] == "red apple"  # the name stays first: evaluation prompts are drawn from it
    assert "apple fruit red" in apple and "红苹果" in apple
    heart = "\N{HEAVY BLACK HEART}\ufe0f"  # CLDR writes it without the variation selector
    assert "红心" in captions_for(heart, data[heart], cldr)


def test_skin_tone_variants_share_a_concept(cldr) -> None:
    thumbs = "\N{THUMBS UP SIGN}"
    assert concept_of(thumbs + "\N{EMOJI MODIFIER FITZPATRICK TYPE-4}") == concept_of(thumbs) == thumbs
    assert concept_of("\N{HEAVY BLACK HEART}\ufe0f") == "\N{HEAVY BLACK HEART}"
    medium = captions_for(thumbs + "\N{EMOJI MODIFIER FITZPATRICK TYPE-4}",
                          fully_qualified()[thumbs + "\N{EMOJI MODIFIER FITZPATRICK TYPE-4}"], cldr)
    assert any("中等肤色" in c for c in medium)  # annotationsDerived covers the modified sequences


def test_missing_cldr_prints_the_apt_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--out", str(tmp_path), "--cldr", str(tmp_path / "nope")]) == 1
    assert "apt-get install -y unicode-cldr-core" in capsys.readouterr().err


def test_held_out_split_is_stable_and_about_ten_percent() -> None:
    emoji = list(fully_qualified())
    share = np.mean([is_held_out(e) for e in emoji])
    assert 0.05 < share < 0.15
    assert [is_held_out(e) for e in emoji[:50]] == [is_held_out(e) for e in emoji[:50]]


def test_build_and_main_write_npz_and_captions(font, tmp_path: Path) -> None:
    sprites = build(font, fully_qualified(), limit=6)
    assert len(sprites) == 6
    for s in sprites:
        assert_sprite(s.pixels)
        assert s.captions and s.name == s.captions[0]

    assert main(["--out", str(tmp_path), "--limit", "6"]) == 0
    arrays = np.load(tmp_path / "sprites.npz")
    records = json.loads((tmp_path / "captions.json").read_text())
    assert arrays["images"].shape == (6, 32, 32, 4) and arrays["held_out"].shape == (6,)
    assert [r["emoji"] for r in records] == [s.emoji for s in sprites]
    assert all(r["concept"] for r in records)
    assert np.array_equal(arrays["images"], np.stack([s.pixels for s in sprites]))


def test_missing_font_prints_the_apt_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--out", str(tmp_path), "--font", str(tmp_path / "nope.ttf")]) == 1
    assert "apt-get install -y fonts-noto-color-emoji" in capsys.readouterr().err
