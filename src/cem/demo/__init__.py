"""The demo workspace: the real public datasets (or a seeded synthetic stand-in) loaded through the bulk services."""
