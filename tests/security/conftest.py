"""Security tests: the HTTP app on in-memory storage with real peers (an SMTP server)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
