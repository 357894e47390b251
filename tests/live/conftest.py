"""The helpers beside these tests (``live_fake_venue``, ``live_webhook``) import by name."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
