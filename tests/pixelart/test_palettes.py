"""Built-in palettes carry the exact values of docs/pixel-art.md; Lospec .hex and GIMP .gpl round-trip."""

from __future__ import annotations

from pathlib import Path

import pytest

from pixelforge.pixelart import BUILTIN_PALETTES, load_palette
from pixelforge.pixelart.color import hex_to_rgb, rgb_to_hex
from pixelforge.pixelart.palettes import format_gpl, format_hex

DOC = {
    "pico-8": "#000000 #1D2B53 #7E2553 #008751 #AB5236 #5F574F #C2C3C7 #FFF1E8 #FF004D #FFA300 #FFEC27 #00E436 "
    "#29ADFF #83769C #FF77A8 #FFCCAA",
    "db16": "#140C1C #442434 #30346D #4E4A4E #854C30 #346524 #D04648 #757161 #597DCE #D27D2C #8595A1 #6DAA2C "
    "#D2AA99 #6DC2CA #DAD45E #DEEED6",
    "db32": "#000000 #222034 #45283C #663931 #8F563B #DF7126 #D9A066 #EEC39A #FBF236 #99E550 #6ABE30 #37946E "
    "#4B692F #524B24 #323C39 #3F3F74 #306082 #5B6EE1 #639BFF #5FCDE4 #CBDBFC #FFFFFF #9BADB7 #847E87 #696A6A "
    "#595652 #76428A #AC3232 #D95763 #D77BBA #8F974A #8A6F30",
    "endesga-32": "#BE4A2F #D77643 #EAD4AA #E4A672 #B86F50 #733E39 #3E2731 #A22633 #E43B44 #F77622 #FEAE34 "
    "#FEE761 #63C74D #3E8948 #265C42 #193C3E #124E89 #0099DB #2CE8F5 #FFFFFF #C0CBDC #8B9BB4 #5A6988 #3A4466 "
    "#262B44 #181425 #FF0044 #68386C #B55088 #F6757A #E8B796 #C28569",
    "gameboy": "#081820 #346856 #88C070 #E0F8D0",
    "slso8": "#0D2B45 #203C56 #544E68 #8D697A #D08159 #FFAA5E #FFD4A3 #FFECD6",
}


@pytest.mark.parametrize("name", BUILTIN_PALETTES)
def test_builtin_palette_matches_the_doc(name: str) -> None:
    loaded_name, colors = load_palette(name.upper())
    assert loaded_name == name
    assert [rgb_to_hex(c) for c in colors] == DOC[name].split()


def test_hex_and_gpl_round_trip(tmp_path: Path) -> None:
    colors = [hex_to_rgb(c) for c in DOC["slso8"].split()]
    (tmp_path / "mine.hex").write_text(format_hex(colors))
    (tmp_path / "mine.gpl").write_text(format_gpl(colors, "mine"))
    assert load_palette(str(tmp_path / "mine.hex")) == ("mine", colors)
    assert load_palette(str(tmp_path / "mine.gpl")) == ("mine", colors)


def test_lospec_hex_and_gimp_gpl_variants(tmp_path: Path) -> None:
    (tmp_path / "a.hex").write_text("#FF0000\r\n00ff00\n\n0000FF")
    (tmp_path / "b.gpl").write_text("GIMP Palette\nName: b\nColumns: 4\n# comment\n255   0   0\tRed\n  0 255 0\n")
    assert load_palette(str(tmp_path / "a.hex"))[1] == [(255, 0, 0), (0, 255, 0), (0, 0, 255)]
    assert load_palette(str(tmp_path / "b.gpl"))[1] == [(255, 0, 0), (0, 255, 0)]
