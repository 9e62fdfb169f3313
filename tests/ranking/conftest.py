from __future__ import annotations

import pytest

from review.services import ranking


@pytest.fixture(autouse=True)
def _fresh_feature_memory():
    """Each test starts with no features in the process (project ids repeat across tests)."""
    ranking.clear_memory_cache()
    yield
    ranking.clear_memory_cache()
