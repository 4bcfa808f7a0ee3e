"""Environment configuration: pydantic models, embedded defaults and the loader."""

from config.loader import ConfigError, load_environment, parse_environment
from config.models import EnvironmentConfig, RegionConfig

__all__ = ["ConfigError", "EnvironmentConfig", "RegionConfig", "load_environment", "parse_environment"]
