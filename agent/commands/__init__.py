"""Sub-commands of ``borderpath``: each module adds its own with ``add_commands``."""
