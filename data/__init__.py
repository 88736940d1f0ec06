"""Published statistics shipped with carespiral (raw files as published, with provenance)."""
