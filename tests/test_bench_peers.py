"""benchmarks/bench_peers.py: the quick run times jaxnn and skips a peer that is not installed;
every installed peer trains the same number of weights as jaxnn's model (peers come from the
optional ``bench`` extra: without them only the first test runs)."""
import math
import sys
from pathlib import Path

import jax
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import bench_peers  # noqa: E402


@pytest.mark.slow
def test_quick_run_times_jaxnn_and_skips_a_peer_that_is_not_installed(monkeypatch, capsys):
    monkeypatch.setitem(bench_peers.PEERS, "absent", ("jaxnn_no_such_peer_library", None))
    with jax.enable_x64(False):   # as the benchmark runs: float32
        rows = bench_peers.main(rounds=2, quick=True, peers=("absent",))
    out = capsys.readouterr().out
    assert "skipping absent: jaxnn_no_such_peer_library is not installed" in out
    assert [row["workload"] for row in rows] == [w.name for w in bench_peers.workloads(quick=True)]
    for row in rows:
        (jaxnn,) = row["results"]
        assert jaxnn["name"] == bench_peers.JAXNN
        assert len(jaxnn["samples_per_s"]) == 2 and all(s > 0 for s in jaxnn["samples_per_s"])
        assert f"### {row['workload']}" in out
    assert out.count(f"| {bench_peers.JAXNN} |") == len(rows)


def test_only_selects_workloads_and_every_epoch_has_whole_batches():
    chosen = bench_peers.workloads(quick=True, groups=("cnn", "lstm"))
    assert [w.group for w in chosen] == ["cnn", "lstm"]
    assert all(w.x.shape[0] % w.batch_size == 0 and w.x.shape[0] == w.y.shape[0] for w in chosen)
    with pytest.raises(Exception, match="unknown"):
        bench_peers.comma_list(bench_peers.WORKLOAD_GROUPS)("mlp,gru")


@pytest.mark.slow
@pytest.mark.parametrize("peer", sorted(bench_peers.PEERS))
def test_an_installed_peer_trains_the_same_number_of_weights(peer):
    if not bench_peers.installed([peer]):   # find_spec, not an import: keras reads its backend once
        pytest.skip(f"{peer} is not installed")
    with jax.enable_x64(False):
        check_peer(peer)


def check_peer(peer):
    """Each of the peer's contenders on every quick workload: jaxnn's parameter count, and one
    epoch that ends with a finite loss."""
    for workload in bench_peers.workloads(quick=True):
        expected = bench_peers.jaxnn_contender(workload).parameters
        if peer == "torch" and workload.group == "lstm":
            expected += 4 * bench_peers.LSTM_HIDDEN   # torch's LSTM: b_ih and b_hh, one redundant
        for contender in bench_peers.PEERS[peer][1](workload):
            assert contender.parameters == expected, (contender.name, workload.name)
            assert math.isfinite(contender.epoch()), (contender.name, workload.name)
