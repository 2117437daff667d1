"""Generated STIX 2 bundles for scale tests and benchmarks (synthetic names under .example TLDs only)."""

from __future__ import annotations

import uuid
from typing import Any


def synthetic_bundle(n: int, *, family: str = "SyntheticSpy", seed: int = 0, plain: bool = False) -> dict[str, Any]:
    """A bundle of n indicators: mostly domains, plus URLs, processes, emails, hashes. URL values hold `=`
    and escaped quotes unless `plain` (MVT's loader crashes on a second `=`)."""
    rng = uuid.UUID(int=seed)
    malware_id = f"malware--{uuid.uuid5(rng, family)}"
    objects: list[dict[str, Any]] = [{"type": "malware", "spec_version": "2.1", "id": malware_id,
                                      "name": family, "is_family": False}]
    for i in range(n):
        r = i % 10
        if r < 6:
            pattern = f"[domain-name:value='h{i}.n{i % 997}.synthetic.example']"
        elif r == 6:
            pattern = (f"[url:value='https://u{i}.synthetic.example/p/{i}']" if plain
                       else f"[url:value='https://u{i}.synthetic.example/p/{i}?id={i}&k=\\'q\\'']")
        elif r == 7:
            pattern = f"[process:name='synthproc{i}']"
        elif r == 8:
            pattern = f"[email-addr:value='user{i}@synthetic.example']"
        else:
            pattern = f"[file:hashes.'SHA-256'='{i:064x}']"
        ind_id = f"indicator--{uuid.uuid5(rng, str(i))}"
        objects.append({"type": "indicator", "spec_version": "2.1", "id": ind_id, "pattern": pattern,
                        "pattern_type": "stix", "valid_from": "2024-01-01T00:00:00Z"})
        objects.append({"type": "relationship", "spec_version": "2.1",
                        "id": f"relationship--{uuid.uuid5(rng, 'r' + str(i))}", "relationship_type": "indicates",
                        "source_ref": ind_id, "target_ref": malware_id})
    return {"type": "bundle", "id": f"bundle--{uuid.uuid5(rng, 'bundle')}", "objects": objects}


def synthetic_observations(n: int) -> list[str]:
    """n hosts and URLs, a tenth of them matching `synthetic_bundle` indicators (some as subdomains)."""
    out = []
    for i in range(n):
        r = i % 10
        if r == 0:
            out.append(f"https://deep.h{i // 10 * 10}.n{(i // 10 * 10) % 997}.synthetic.example:8443/x")
        elif r < 5:
            out.append(f"https://site{i}.benign.example/path/{i}?q={i}")
        else:
            out.append(f"cdn{i}.benign.example")
    return out
