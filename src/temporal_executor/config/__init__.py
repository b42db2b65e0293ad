"""Configuration: the config file's sections (`sections.py` assembles them, and its names are
this package's) and how they are loaded, from defaults, a YAML file and environment overrides
(`loading.py`)."""

from __future__ import annotations

from . import sections
from .loading import CONFIG_PATH_ENV, ENV_PREFIX, load_config
from .sections import *  # noqa: F403

__all__ = ["CONFIG_PATH_ENV", "ENV_PREFIX", "load_config"]
__all__ += sections.__all__
