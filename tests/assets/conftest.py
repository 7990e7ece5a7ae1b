"""Fixtures of the asset model tests: the moto S3 server of tests/scale (one per session)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parents[1]))

from scale.conftest import moto_endpoint, s3_bucket, s3_options, s3_uri  # noqa: F401
