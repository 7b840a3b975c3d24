"""Fixtures for the netns integration tests (see docs/harness.md)."""

import pytest

from integration.harness.fixtures import *  # noqa: F403


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    # Teardown fixtures read item.rep_call to decide whether to print daemon logs.
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report
