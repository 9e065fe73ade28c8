"""The 3GPP TR 38.901 backend (Sionna, the ``sionna`` extra): the samplers' features from UMi
and UMa channels in exactly the simple model's layout, seeded, and one line naming the install
command where Sionna is missing."""

import builtins
import json
from pathlib import Path

import pytest
import torch
from pydantic import ValidationError

from designer.wireless import PROBLEMS
from designer.wireless.scenarios import (sample_cooperative_beamforming, sample_ibc_power_allocation,
                                        sample_ic_beamforming_node, sample_mcmu_power_allocation)

needs_sionna = pytest.mark.sionna


@pytest.fixture
def sionna():
    return pytest.importorskip("sionna.phy", reason="the sionna extra is not installed")


@needs_sionna
@pytest.mark.parametrize("channel", ["umi", "uma"])
@pytest.mark.parametrize("sampler, sizes", [(sample_ic_beamforming_node, {"K": 4, "N": 2}),
                                            (sample_mcmu_power_allocation, {"M": 2, "K": 3, "N_t": 4}),
                                            (sample_ibc_power_allocation, {"B": 2, "Q": 2, "N": 4}),
                                            (sample_cooperative_beamforming, {"M": 3, "K": 2, "N": 2})])
def test_3gpp_features_have_the_simple_models_layout_and_follow_the_seed(sionna, sampler, sizes, channel):
    simple = sampler(2, seed=0, **sizes)
    drawn = sampler(2, seed=0, channel=channel, **sizes)
    assert {k: (v.shape, v.dtype) for k, v in drawn.items()} == {k: (v.shape, v.dtype) for k, v in simple.items()}
    assert all(torch.isfinite(v).all() for v in drawn.values())
    gains = "G" if "G" in drawn else "H"
    assert not torch.equal(drawn[gains], simple[gains])
    assert torch.equal(sampler(2, seed=0, channel=channel, **sizes)[gains], drawn[gains])
    assert not torch.equal(sampler(2, seed=1, channel=channel, **sizes)[gains], drawn[gains])


@needs_sionna
def test_3gpp_path_loss_orders_the_links_as_distance_does(sionna):
    # IC: the direct links (50-250 m) are on average far stronger than the interfering ones
    H = sample_ic_beamforming_node(16, seed=3, K=8, channel="umi")["H"]
    gain = H.abs().square().sum(-1)
    direct = gain.diagonal(dim1=1, dim2=2)
    assert direct.log10().mean() > gain.log10().mean() + 1


@needs_sionna
def test_a_problem_draws_3gpp_channels_through_its_scenario(sionna):
    problem = PROBLEMS["mcmu_power_allocation"]
    features = problem.sample(2, sizes={"M": 2, "K": 2}, generator=torch.Generator().manual_seed(0),
                              scenario=problem.Scenario(channel="umi"))
    assert features["H"].shape == (2, 2, 2, 2, 2)
    rate = problem.objective(features, problem.reference(features, sizes={"M": 2, "K": 2}))
    assert torch.isfinite(rate).all() and (rate > 0).all()


def test_without_sionna_the_3gpp_channels_name_the_install_command(monkeypatch):
    real_import = builtins.__import__

    def no_sionna(name, *args, **kwargs):
        if name.startswith("sionna"):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_sionna)
    with pytest.raises(ValueError, match=r'pip install -e "\.\[sionna\]"') as info:
        sample_ic_beamforming_node(1, seed=0, K=2, channel="umi")
    assert "\n" not in str(info.value)


def test_an_unknown_channel_model_is_refused():
    with pytest.raises(ValidationError, match="channel"):
        PROBLEMS["ic_beamforming_node"].Scenario(channel="rma")


@needs_sionna
def test_mcmu_trains_and_evaluates_on_umi_from_the_cli(sionna, tmp_path, capsys):
    from designer.cli import main

    run = tmp_path / "run"
    spec = Path(__file__).resolve().parents[2] / "specs" / "mcmu_power_allocation.yaml"
    assert main(["train", str(spec), "--scenario", "channel=umi", "--size", "M=2",
                 "--size", "K=2", "--samples", "8", "--val-samples", "4", "--epochs", "1", "--batch", "4",
                 "--out", str(run), "--no-progress"]) == 0
    assert main(["evaluate", str(run), "--samples", "4", "--format", "json"]) == 0
    out = capsys.readouterr().out
    row = json.loads(out[out.index("{"):])["rows"][0]
    assert row["scenario"]["channel"] == "umi" and 0 < row["ratio"] <= 1 + 1e-6
