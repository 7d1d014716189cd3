"""Under the prompt, the words the sprite model will ignore and the ones it reads as another word."""

from __future__ import annotations

from collections.abc import Callable

from browserkit import open_ui
from playwright.sync_api import BrowserContext, expect

from pixelforge.testing.live_server import LiveServer


def test_the_prompt_tells_which_words_the_model_does_not_know(
    new_context: Callable[..., BrowserContext], live: LiveServer
) -> None:
    page = open_ui(new_context(), live.url)
    note = page.locator("#prompt-words")
    prompt = page.locator("#prompt")
    prompt.fill("two red apples and a zorp")
    expect(note).to_have_text("Not known to the model (ignored): zorp")
    expect(prompt).to_have_attribute("aria-describedby", "prompt-words shortcut-hints")

    page.get_by_label("Language").select_option("zh-CN")
    expect(note).to_have_text("模型不认识（将被忽略）：zorp")

    prompt.fill("two red apples")  # every word known: nothing to say
    expect(note).to_be_hidden()
    prompt.fill("zorp blorf")
    expect(note).to_have_text("模型不认识（将被忽略）：zorp, blorf")
