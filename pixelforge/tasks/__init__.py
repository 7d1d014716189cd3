"""The task domain: models, progress maths, the store and the event bus. No torch, no web."""
