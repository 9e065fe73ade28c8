"""3GPP TR 38.901 channels from Sionna (optional extra ``sionna``): the ``channel="umi"`` /
``"uma"`` backend of the samplers in :mod:`designer.wireless.scenarios`.

A sampler lays out its BSs and UEs as usual (its own geometry, in metres); this module draws the
channel between every BS antenna and every single-antenna UE from Sionna's UMi (street canyon)
or UMa system-level model: LoS/NLoS per link, path loss, shadow fading and clustered
multipath, per 3GPP TR 38.901 §7. The BS carries a horizontal uniform linear array of ``N``
omnidirectional, vertically polarised elements half a wavelength apart (height 10 m UMi, 25 m
UMa), every UE one element at 1.5 m, outdoors, static. The narrowband channel is the channel
impulse response at one instant summed over its clusters (the frequency response at the
carrier): complex amplitudes that include the path gain, in the sampler's layout, so every
problem's features are computed from them exactly as from the simple model's.

Sionna draws from its own generator: the sampler's generator gives it a seed
(``sionna.phy.config.seed``), so the same seed gives the same channels.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

MODELS = ("umi", "uma")
INSTALL = 'python -m pip install -e ".[sionna]"  (Sionna\'s PyTorch package, sionna-no-rt)'
BS_HEIGHT = {"umi": 10.0, "uma": 25.0}
UE_HEIGHT = 1.5
CHUNK = 32  # samples per call of Sionna's model


def _sionna():
    """Sionna's TR 38.901 module, or a one-line error naming the install command."""
    try:
        import sionna.phy
        from sionna.phy.channel import tr38901
    except ImportError:
        raise ValueError(f"the 3GPP channels need Sionna, which is not installed: {INSTALL}") from None
    return sionna.phy, tr38901


def channels(model: str, bs_xy: Tensor, ue_xy: Tensor, antennas: int, carrier_ghz: float,
             generator: torch.Generator | None) -> Tensor:
    """TR 38.901 ``model`` channels from ``bs_xy`` ``(batch, n_bs, 2)`` to ``ue_xy`` ``(batch,
    n_ue, 2)`` (metres): ``(batch, n_bs, n_ue, antennas)`` complex128, the amplitude gains
    (path loss included) of each BS antenna to each UE at ``carrier_ghz``. Drawn
    :data:`CHUNK` samples at a time (Sionna's rays of a whole training set would not fit in
    memory), each chunk seeded from ``generator``."""
    if model not in MODELS:
        raise ValueError(f"channel={model!r}: choose simple, {', '.join(MODELS)}")
    phy, tr38901 = _sionna()
    seeds = torch.randint(2**31 - 1, (math.ceil(len(bs_xy) / CHUNK),), generator=generator, device=bs_xy.device)
    return torch.cat([_chunk(phy, tr38901, model, bs, ue, antennas, carrier_ghz, int(seed))
                      for bs, ue, seed in zip(bs_xy.split(CHUNK), ue_xy.split(CHUNK), seeds)])


def _chunk(phy, tr38901, model: str, bs_xy: Tensor, ue_xy: Tensor, antennas: int, carrier_ghz: float,
           seed: int) -> Tensor:
    """:func:`channels` of one chunk of samples, Sionna seeded with ``seed``."""
    phy.config.seed = seed
    fc = carrier_ghz * 1e9
    bs_array = tr38901.PanelArray(num_rows_per_panel=1, num_cols_per_panel=antennas, polarization="single",
                                  polarization_type="V", antenna_pattern="omni", carrier_frequency=fc)
    ue_array = tr38901.PanelArray(num_rows_per_panel=1, num_cols_per_panel=1, polarization="single",
                                  polarization_type="V", antenna_pattern="omni", carrier_frequency=fc)
    system = {"umi": tr38901.UMi, "uma": tr38901.UMa}[model]
    channel = system(carrier_frequency=fc, o2i_model="low", ut_array=ue_array, bs_array=bs_array,
                     direction="downlink")
    batch, n_bs, n_ue = bs_xy.shape[0], bs_xy.shape[1], ue_xy.shape[1]
    bs_loc = torch.cat([bs_xy, bs_xy.new_full((batch, n_bs, 1), BS_HEIGHT[model])], dim=-1).float().cpu()
    ue_loc = torch.cat([ue_xy, ue_xy.new_full((batch, n_ue, 1), UE_HEIGHT)], dim=-1).float().cpu()
    still = lambda n: torch.zeros(batch, n, 3)  # noqa: E731  orientations, velocities (Sionna's float32)
    channel.set_topology(ue_loc, bs_loc, still(n_ue), still(n_bs), still(n_ue),
                         torch.zeros(batch, n_ue, dtype=torch.bool))
    a, _ = channel(1, 1.0)  # (batch, ue, 1, bs, antennas, clusters, 1)
    h = a[:, :, 0, :, :, :, 0].sum(dim=-1)  # (batch, ue, bs, antennas)
    return h.transpose(1, 2).to(torch.complex128).to(bs_xy.device)
