"""The end-to-end rig and the running ``signoff serve`` fixtures, shared with tests/e2e."""

from tests.e2e.conftest import rig
from tests.e2e.test_serve import served

__all__ = ["rig", "served"]
