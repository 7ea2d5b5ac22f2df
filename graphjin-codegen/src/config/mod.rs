//! The build-time part of GraphJin's YAML config.
