"""Domain services: every write and every rule goes through here, never through views."""
