"""The engine runs with the cyclic collector quieted, and puts it back as it was."""

from __future__ import annotations

import gc

from janus_core.run.session import quiet_collector


def test_start_up_objects_are_frozen_during_the_run_and_settings_come_back():
    before = gc.get_threshold()
    gc.unfreeze()
    with quiet_collector(threshold=12_345):
        assert gc.get_threshold() == (12_345, *before[1:])
        assert gc.get_freeze_count() > 1000  # modules, classes: all of start-up
        cycle: list = []
        cycle.append(cycle)
        del cycle
        assert gc.collect() >= 1  # the run's own cycles are still collected
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0


def test_settings_come_back_after_an_error():
    before = gc.get_threshold()
    try:
        with quiet_collector():
            raise RuntimeError("the run broke")
    except RuntimeError:
        pass
    assert gc.get_threshold() == before and gc.get_freeze_count() == 0
