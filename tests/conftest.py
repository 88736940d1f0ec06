"""Suite-wide fixtures: every test session gets its own translation cache."""

from __future__ import annotations

import os
import tempfile

# Set before any test imports carespiral, so no test writes to the user's cache.
os.environ.setdefault("CARESPIRAL_CACHE_DIR", tempfile.mkdtemp(prefix="carespiral-test-cache-"))
