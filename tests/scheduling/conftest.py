"""The API tests' fixtures (`api`, isolated throttles) for the scheduling tests too."""

from tests.api.conftest import _isolated_throttles, api  # noqa: F401 - fixtures
from tests.api.support import isolated_cache  # noqa: F401 - a fixture
