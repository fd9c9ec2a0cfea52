"""A cluster of uplink-cloud instances on one PostgreSQL (issue 14, section 3;
docs/cluster.md).

Each test starts PostgreSQL of its own (scripts/pg-test-server) and three
`uplink-cloud run` instances on loopback sharing it (cloudpeers.ClusterFixture:
the first one's data directory copied, `init --store` once):

  * every instance lists the three up, with their addresses, on each one;
  * a connector with its tunnels on instance B shows on A's API with
    `instances: [{instance: i2, tunnels: 2}]`, and A's /api/v1/instances
    counts them on B; when it stops, that goes;
  * SIGTERM of an instance: the others show it gone at once (it said so);
  * kill -9 of an instance: the others show it gone after its lease ran
    out (lease 2 s; asserted within 5x), and its locations are deleted;
  * revocation through A's API closes the connector's tunnels on B; drain
    through A stops new streams on B (LISTEN/NOTIFY hint; measured);
  * a console session made on A is valid on B; failed sign-ins on A and B
    add up to one limit.
"""

import os
import re
import time

import pytest

import cloudpeers as cp

SAN = cp.SAN
SLOW = 3.0 if SAN else 1.0

pytestmark = [
    pytest.mark.skipif(not os.access(cp.cloud_path(), os.X_OK),
                       reason=f"{cp.cloud_path()} missing: run make"),
    pytest.mark.skipif(not any(os.path.exists(f"/usr/lib/postgresql/{v}/bin/initdb")
                               for v in os.listdir("/usr/lib/postgresql"))
                       if os.path.isdir("/usr/lib/postgresql") else True,
                       reason="PostgreSQL is not installed: run scripts/install-deps"),
]


@pytest.fixture
def cluster(workdir, request):
    lease = getattr(request, "param", "2s")
    cl = cp.ClusterFixture(os.path.join(workdir, f"cl-{request.node.name}"), n=3,
                           lease=lease)
    cl.start()
    try:
        yield cl
    finally:
        cl.stop()


def wait_instances(cl, i, pred, timeout, what):
    """Polls GET /api/v1/instances on instance i until pred(instances)."""
    last = {}

    def check():
        nonlocal last
        last = cl.instances(i)
        return pred(last)
    cp.wait_for(check, timeout, what, interval=0.1, on_fail=lambda: repr(last))
    return last


def test_instances_listed_everywhere(cluster):
    cl = cluster
    for i in range(3):
        got = wait_instances(cl, i, lambda v: len(v) == 3 and
                             all(x["state"] == "up" for x in v.values()),
                             10 * SLOW, f"three instances up on {cl.ids[i]}")
        assert sorted(got) == cl.ids
        for j, iid in enumerate(cl.ids):
            x = got[iid]
            assert x["peer_address"] == f"{cp.LOOPBACK}:{cl.peer_ports[j]}", x
            assert x["tunnel_address"] == f"{cp.LOOPBACK}:{cl.clouds[j].port}", x
            assert x["self"] == (i == j), x
            assert x["lease_until"] > x["started_at"], x
        r = cl.api(i).get("/api/v1/instances")
        assert r.body["cluster"] is True and r.body["self"] == cl.ids[i], r
    # The instances and nothing else, in the database.
    rows = cl.clouds[0].db("SELECT id, state, epoch FROM instances ORDER BY id")
    assert rows == [(iid, "up", 1) for iid in cl.ids], rows
