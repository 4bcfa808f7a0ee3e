"""Environment configuration: pydantic models, embedded defaults and the loader."""

from config.loader import ConfigError, load_environment, parse_environment
from config.models import AuditConfig, EnvironmentConfig, RegionConfig

__all__ = ["AuditConfig", "ConfigError", "EnvironmentConfig", "RegionConfig", "load_environment", "parse_environment"]
