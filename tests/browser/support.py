"""Constants shared by the browser tests and their fixtures."""

from pathlib import Path

ARTIFACTS = Path(__file__).parent.parent.parent / "test-artifacts"
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
