"""Turn fake pixel art into true pixel art."""
