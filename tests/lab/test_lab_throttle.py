"""SNI-triggered throttling: the marked flow converges to the configured rate; others on the same IP do not."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from ayiq.lab import Lab

pytestmark = [pytest.mark.root, pytest.mark.slow]
Client = Callable[..., dict[str, Any]]
SIZE = 900_000  # bytes: ~3.6 s at 2 Mbit/s


def steady_rate(timings: list[list[float]], skip_fraction: float = 0.25) -> float:
    """Bits per second after the first quarter of the bytes (past slow start and the HTB burst)."""
    total = timings[-1][1]
    start = next(t for t in timings if t[1] >= total * skip_fraction)
    end = timings[-1]
    return (end[1] - start[1]) * 8 / (end[0] - start[0])


def total_rate(timings: list[list[float]]) -> float:
    return timings[-1][1] * 8 / max(timings[-1][0], 1e-6)


@pytest.mark.parametrize("name", ["throttled.lab", "policed.lab"])
def test_throttled_flow_converges_to_rate_and_other_sni_is_10x_faster(lab: Lab, client: Client,
                                                                      name: str) -> None:
    target = lab.scenario.target(name)
    assert target.throttle_bps is not None
    ip = target.address
    before = lab.throttle_stats()[name]
    slow = client("tls", ip=ip, sni=name, get=f"/bytes/{SIZE}", read_timeout=30)
    after = lab.throttle_stats()[name]
    # The flow really went through the target's HTB class; a policer drops the excess, a shaper queues it.
    assert after["bytes"] - before["bytes"] >= SIZE
    dropped = after["drops"] - before["drops"]
    print(f"{name}: {dropped} packets dropped by the {target.throttle_mode}")
    assert dropped > 0 if target.throttle_mode == "policer" else dropped == 0
    assert slow["outcome"] == "ok" and slow["timings"][-1][1] >= SIZE
    rate = steady_rate(slow["timings"])
    print(f"{name} ({target.throttle_mode}): steady {rate / 1e6:.3f} Mbit/s, configured "
          f"{target.throttle_bps / 1e6:.3f}")
    assert abs(rate - target.throttle_bps) <= 0.25 * target.throttle_bps
    fast = client("tls", ip=ip, sni="open.lab", get=f"/bytes/{SIZE * 4}", read_timeout=30)
    assert fast["outcome"] == "ok"
    fast_rate = total_rate(fast["timings"])
    print(f"same IP, other SNI: {fast_rate / 1e6:.1f} Mbit/s")
    assert fast_rate >= 10 * target.throttle_bps
    assert any(e["technique"] == "sni-throttle" and e["target"] == name for e in lab.censor_events())
