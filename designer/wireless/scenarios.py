"""Scenario (channel) generators of the wireless problems.

Each ``sample_<problem>(batch, *, generator=None, seed=None, device=None, dtype=torch.float32,
**sizes_and_physics)`` returns a dict of feature tensors keyed exactly as the compiler expects
(see ``docs/wireless.md``).  Randomness comes from ``generator`` (a ``torch.Generator``), or from
a fresh CPU generator seeded with ``seed``, or else from torch's global RNG.  Draws are made in
float64 on the generator's device and then cast: real features to ``dtype``, complex features to
the matching complex dtype (float32 -> complex64, float64 -> complex128), moved to ``device``.
The same generator state therefore gives the same features on every device.

Units: distances in metres, powers in dBm, path losses in dB, carrier frequency in GHz.
"""

from __future__ import annotations

import inspect
import math

import torch
from torch import Tensor

from . import tr38901

__all__ = [
    "sample_mcmu_power_allocation",
    "sample_hybrid_precoding",
    "sample_hybrid_precoding_miso",
    "sample_ic_beamforming_edge",
    "sample_ic_beamforming_node",
    "sample_ibc_power_allocation",
    "sample_cooperative_beamforming",
    "sample_d2d_link_scheduling",
    "sample_comp_jt",
    "sample_mu_miso_precoding",
    "pathloss_engnn_db",
    "pathloss_umi_db",
    "pathloss_two_slope_db",
    "dbm_to_watt",
    "cell_beams",
    "equivalent_channels",
    "complex_dtype",
]


# --------------------------------------------------------------------------- units and models
def dbm_to_watt(dbm: float | Tensor) -> float | Tensor:
    """``P[W] = 10^((P[dBm] - 30) / 10)``."""
    return 10.0 ** ((dbm - 30.0) / 10.0)


def pathloss_engnn_db(d: Tensor) -> Tensor:
    """ENGNN §IV path loss ``30.5 + 36.7 log10(d)`` in dB, ``d`` in metres."""
    return 30.5 + 36.7 * torch.log10(d)


def pathloss_umi_db(d: Tensor, fc_ghz: float = 5.0) -> Tensor:
    """Zhao §6-A path loss ``32.4 + 31.9 log10(d) + 20 log10(f_c)`` in dB.

    ``d`` in metres and ``f_c`` in **GHz** (the 3GPP TR 38.901 UMi street-canyon NLOS form that
    this formula is taken from; Zhao only says "f_c is set as 5 GHz").
    """
    return 32.4 + 31.9 * torch.log10(d) + 20.0 * math.log10(fc_ghz)


def pathloss_two_slope_db(d: Tensor, fc_ghz: float = 2.4, h_tx: float = 1.5, h_rx: float = 1.5) -> Tensor:
    """Two-slope (two-ray) path loss in dB used by the D2D scenario.

    Free space ``20 log10(4 pi d / lambda)`` up to the breakpoint ``d_bp = 4 h_tx h_rx / lambda``,
    ``40 log10`` slope beyond, continuous at ``d_bp``.  ``d`` in metres, ``f_c`` in GHz.
    """
    lam = 299792458.0 / (fc_ghz * 1e9)
    d_bp = 4.0 * h_tx * h_rx / lam
    fs_bp = 20.0 * math.log10(4.0 * math.pi * d_bp / lam)
    near = 20.0 * torch.log10(4.0 * math.pi * d / lam)
    far = fs_bp + 40.0 * torch.log10(d / d_bp)
    return torch.where(d <= d_bp, near, far)


def complex_dtype(dtype: torch.dtype) -> torch.dtype:
    """float32 -> complex64, float64 -> complex128."""
    table = {torch.float32: torch.complex64, torch.float64: torch.complex128}
    if dtype not in table:
        raise TypeError(f"dtype must be torch.float32 or torch.float64, got {dtype}")
    return table[dtype]


# --------------------------------------------------------------------------- randomness
class _Rng:
    """float64 draws from one generator (or the global RNG) on the generator's device."""

    def __init__(self, generator: torch.Generator | None, seed: int | None):
        if generator is not None and seed is not None:
            raise ValueError("pass either generator or seed, not both")
        if generator is None and seed is not None:
            generator = torch.Generator().manual_seed(int(seed))
        self.gen = generator
        self.device = generator.device if generator is not None else torch.device("cpu")

    def uniform(self, shape, low: float = 0.0, high: float = 1.0) -> Tensor:
        u = torch.rand(shape, generator=self.gen, device=self.device, dtype=torch.float64)
        return low + (high - low) * u

    def normal(self, shape) -> Tensor:
        return torch.randn(shape, generator=self.gen, device=self.device, dtype=torch.float64)

    def cn(self, shape) -> Tensor:
        """i.i.d. CN(0, 1) (complex128)."""
        return torch.complex(self.normal(shape), self.normal(shape)) / math.sqrt(2.0)

    def laplace(self, shape, scale: float) -> Tensor:
        """Zero-mean Laplacian with scale ``scale`` (std ``sqrt(2) scale``), by inversion."""
        u = self.uniform(shape, -0.5, 0.5)
        return -scale * torch.sign(u) * torch.log1p(-(2.0 * u.abs()).clamp(max=1.0 - 1e-12))


def _finish(features: dict[str, Tensor], device, dtype: torch.dtype) -> dict[str, Tensor]:
    cdtype = complex_dtype(dtype)
    return {k: v.to(device=device, dtype=cdtype if v.is_complex() else dtype) for k, v in features.items()}


# --------------------------------------------------------------------------- geometry helpers
def _grid_positions(n: int, spacing: float) -> Tensor:
    """``n`` points on a square grid (``ceil(sqrt(n))`` columns, row-major), spacing ``spacing``."""
    cols = math.ceil(math.sqrt(n))
    idx = torch.arange(n, dtype=torch.float64)
    return torch.stack([idx % cols, torch.div(idx, cols, rounding_mode="floor")], dim=-1) * spacing


def _in_square(rng: _Rng, shape: tuple[int, int], field: float | tuple[float, float]) -> Tensor:
    """``(batch, n, 2)`` points uniform in a ``field x field`` square; for ``field=(lo, hi)`` each
    sample's side is first drawn uniform in ``[lo, hi]``."""
    if isinstance(field, (tuple, list)):
        side = rng.uniform((shape[0], 1, 1), *field)
        return side * rng.uniform((*shape, 2))
    return rng.uniform((*shape, 2), 0.0, field)


def _positions_min_distance(rng: _Rng, batch: int, n: int, field: float, min_dist: float,
                            max_tries: int = 10000) -> Tensor:
    """``(batch, n, 2)`` points uniform in ``[0, field]^2``, pairwise at least ``min_dist`` apart.

    Points are placed one at a time; a candidate that is too close to an earlier point is redrawn
    (rejection sampling, done for the whole batch in parallel).
    """
    pos = torch.empty(batch, n, 2, dtype=torch.float64, device=rng.device)
    for i in range(n):
        pos[:, i] = rng.uniform((batch, 2), 0.0, field)
        for _ in range(max_tries):
            if i == 0:
                break
            bad = (torch.cdist(pos[:, i:i + 1], pos[:, :i]).squeeze(1) < min_dist).any(dim=-1)
            if not bool(bad.any()):
                break
            pos[bad, i] = rng.uniform((int(bad.sum()), 2), 0.0, field)
        else:
            raise RuntimeError(f"could not place {n} points {min_dist} m apart in a {field} m square")
    return pos


def _around(rng: _Rng, centres: Tensor, d_min: float, d_max: float) -> Tensor:
    """One point per centre at a distance uniform in ``[d_min, d_max]``, uniform direction."""
    shape = centres.shape[:-1]
    r = rng.uniform(shape, d_min, d_max)
    phi = rng.uniform(shape, 0.0, 2.0 * math.pi)
    return centres + torch.stack([r * torch.cos(phi), r * torch.sin(phi)], dim=-1)


def _in_annulus(rng: _Rng, centres: Tensor, r_min: float, r_max: float) -> Tensor:
    """One point per centre, uniform in *area* over the annulus ``r_min <= r <= r_max``."""
    shape = centres.shape[:-1]
    r = torch.sqrt(rng.uniform(shape, r_min ** 2, r_max ** 2))
    phi = rng.uniform(shape, 0.0, 2.0 * math.pi)
    return centres + torch.stack([r * torch.cos(phi), r * torch.sin(phi)], dim=-1)


def _distances(tx: Tensor, rx: Tensor, floor: float = 1.0) -> Tensor:
    """``(batch, n_tx, n_rx)`` distances (clamped below at ``floor`` metres)."""
    return torch.cdist(tx, rx).clamp(min=floor)


def _link_channels(rng: _Rng, bs: Tensor, ue: Tensor, antennas: int, loss_db, channel: str = "simple",
                   fc_ghz: float = 3.5) -> Tensor:
    """``(batch, n_bs, n_ue, antennas)`` complex128 amplitude gains from every BS antenna (``bs``
    ``(batch, n_bs, 2)``) to every single-antenna UE (``ue`` ``(batch, n_ue, 2)``): the simple
    model ``10^(-loss_db(d)/20) CN(0, I)`` (``loss_db`` of the distances, drawn first), or with
    ``channel="umi"``/``"uma"`` 3GPP TR 38.901 at ``fc_ghz`` (:mod:`designer.wireless.tr38901`)."""
    if channel == "simple":
        amp = torch.sqrt(10.0 ** (-loss_db(_distances(bs, ue)) / 10.0))
        return amp.unsqueeze(-1) * rng.cn((*amp.shape, antennas))
    return tr38901.channels(channel, bs, ue, antennas, fc_ghz, rng.gen)


# --------------------------------------------------------------------------- beams
def cell_beams(h_intra: Tensor, kind: str = "zf") -> Tensor:
    """Unit-norm beams of each BS for its own UEs.

    ``h_intra``: complex ``(batch, B, Q, N)``; ``h_intra[b, c, q]`` = channel ``h`` from BS ``c``
    to its UE ``q`` (received amplitude ``h^H w``).  Returns ``(batch, B, N, Q)`` whose column
    ``q`` is ``w_{q_c}``.  ``kind="zf"``: columns of ``pinv(G)`` with ``G = [h_q^H]_q`` (so
    ``h_{q'}^H w_q = 0`` for ``q' != q``; needs ``N >= Q``); ``kind="mrt"``: ``w_q = h_q/||h_q||``.
    """
    if kind == "zf":
        if h_intra.shape[-1] < h_intra.shape[-2]:
            raise ValueError("ZF beams need at least as many antennas as UEs per cell")
        W = torch.linalg.pinv(h_intra.conj())  # (batch, B, N, Q)
    elif kind == "mrt":
        W = h_intra.transpose(-1, -2)
    else:
        raise ValueError(f"unknown beam kind {kind!r} (use 'zf' or 'mrt')")
    return W / torch.linalg.vector_norm(W, dim=-2, keepdim=True).clamp_min(1e-300)


def equivalent_channels(h: Tensor, W: Tensor) -> Tensor:
    """Equivalent complex channel of every (Tx beam, UE) pair.

    ``h``: ``(batch, B_tx, B_rx, Q_rx, N)``, ``h[b, c, d, r]`` = channel from BS ``c`` to UE ``r``
    of cell ``d``; ``W``: ``(batch, B_tx, N, Q_tx)`` beams.  Returns
    ``(batch, B_tx, Q_tx, B_rx, Q_rx)`` with entry ``h_{c, r_d}^H w_{q_c}``.
    """
    return torch.einsum("bcdrn,bcnq->bcqdr", h.conj(), W)


def _own_cell(h: Tensor) -> Tensor:
    """``h[b, c, c]`` of a ``(batch, B, B, Q, N)`` channel: ``(batch, B, Q, N)``."""
    return torch.diagonal(h, dim1=1, dim2=2).permute(0, 3, 1, 2)


# --------------------------------------------------------------------------- 1. MCMU
def sample_mcmu_power_allocation(batch: int, *, generator: torch.Generator | None = None,
                                 seed: int | None = None, device=None, dtype: torch.dtype = torch.float32,
                                 M: int = 4, K: int = 5, N_t: int = 8, radius: float = 60.0,
                                 min_distance: float = 10.0, fc_ghz: float = 5.0, shadowing_db: float = 8.0,
                                 p_max_dbm: float = 30.0, noise_dbm: float = -95.0,
                                 beamformer: str = "zf", channel: str = "simple") -> dict[str, Tensor]:
    """MCMU power-allocation channels (Zhao et al. §3-B Example 1, §6-A).

    Layout: ``M`` BSs at the centres of cells of radius ``radius`` on a square grid with spacing
    ``2 radius`` (``ceil(sqrt(M))`` columns; M=4 gives a 2x2 grid, 120 m apart); ``K`` UEs per
    cell uniform in area over the annulus ``min_distance <= d <= radius`` around their BS.
    Channel from BS ``n`` to UE ``(m, k)``: ``g = 10^(-(PL + X)/20) * CN(0, I_{N_t})`` with
    ``PL = 32.4 + 31.9 log10(d) + 20 log10(f_c[GHz])`` and ``X ~ N(0, shadowing_db^2)`` dB per
    (UE, BS) link.  Each BS uses unit-norm beams ``w_{j_n}`` computed from its intra-cell channels
    (ZF by default, see :func:`cell_beams`).

    Returns ``{"H"}``: real ``(batch, M, K, M, K)`` with
    ``H[b, m, k, n, j] = |g_{k_m, n}^H w_{j_n}|^2 P_max / sigma0^2`` (AN ``j`` of cell ``n`` -> UE
    ``k`` of cell ``m``; receiver axes first), so that powers are fractions of ``P_max``.

    ``channel="umi"`` or ``"uma"``: the same layout, ``g`` drawn from 3GPP TR 38.901 at ``fc_ghz``
    instead (:mod:`designer.wireless.tr38901`, the ``sionna`` extra; ``shadowing_db`` unused).
    """
    rng = _Rng(generator, seed)
    bs = _grid_positions(M, 2.0 * radius).to(rng.device).expand(batch, M, 2)
    ue = _in_annulus(rng, bs.unsqueeze(2).expand(batch, M, K, 2), min_distance, radius)
    def loss_db(d: Tensor) -> Tensor:
        return pathloss_umi_db(d, fc_ghz) + shadowing_db * rng.normal(d.shape)

    h = _link_channels(rng, bs, ue.reshape(batch, M * K, 2), N_t, loss_db, channel, fc_ghz)
    h = h.reshape(batch, M, M, K, N_t)  # [bs n, cell m, ue k]
    W = cell_beams(_own_cell(h), beamformer)
    eff = equivalent_channels(h, W)  # [tx cell n, beam j, rx cell m, ue k]
    snr = dbm_to_watt(p_max_dbm) / dbm_to_watt(noise_dbm)
    H = snr * (eff.real.square() + eff.imag.square()).permute(0, 3, 4, 1, 2)
    return _finish({"H": H}, device, dtype)


# --------------------------------------------------------------------------- 2. hybrid precoding
def _steering(theta: Tensor, n: int) -> Tensor:
    """Half-wavelength ULA response ``exp(j pi i sin theta) / sqrt(n)``, ``i = 0..n-1``."""
    i = torch.arange(n, dtype=torch.float64, device=theta.device)
    phase = math.pi * torch.sin(theta).unsqueeze(-1) * i
    return torch.polar(torch.full_like(phase, 1.0 / math.sqrt(n)), phase)


def _saleh_valenzuela(rng: _Rng, batch: int, K: int, N_r: int, N_t: int, n_clusters: int, n_rays: int,
                      angular_spread_deg: float, spread: str) -> Tensor:
    """``(batch, K, N_r, N_t)`` narrowband clustered mmWave channels, ``E||H_k||_F^2 = N_t N_r``."""
    sigma = math.radians(angular_spread_deg)

    def angles() -> Tensor:
        mean = rng.uniform((batch, K, n_clusters, 1), 0.0, 2.0 * math.pi)
        if spread == "laplacian":
            offset = rng.laplace((batch, K, n_clusters, n_rays), sigma / math.sqrt(2.0))
        elif spread == "gaussian":
            offset = sigma * rng.normal((batch, K, n_clusters, n_rays))
        else:
            raise ValueError(f"unknown angular spread law {spread!r} (use 'laplacian' or 'gaussian')")
        return mean + offset

    a_t = _steering(angles(), N_t)
    a_r = _steering(angles(), N_r)
    alpha = rng.cn((batch, K, n_clusters, n_rays))
    scale = math.sqrt(N_t * N_r / (n_clusters * n_rays))
    return scale * torch.einsum("bkcl,bkclr,bkclt->bkrt", alpha, a_r, a_t.conj())


def sample_hybrid_precoding(batch: int, *, generator: torch.Generator | None = None, seed: int | None = None,
                            device=None, dtype: torch.dtype = torch.float32, N_t: int = 8, N_RF: int = 6,
                            K: int = 2, N_r: int = 2, n_clusters: int = 8, n_rays: int = 10,
                            angular_spread_deg: float = 10.0, spread: str = "laplacian") -> dict[str, Tensor]:
    """MU-MIMO hybrid-precoding channels (Zhao et al. §3-B Example 2, §6-A).

    Saleh-Valenzuela model per UE: ``H_k = sqrt(N_t N_r / (C L)) sum_{c,l} alpha_cl a_r(phi_cl)
    a_t(theta_cl)^H`` with ``C = n_clusters``, ``L = n_rays``, ``alpha ~ CN(0, 1)``, half-wavelength
    ULAs at both ends, cluster mean angles uniform in ``[0, 2 pi)`` and ray offsets Laplacian
    (default) or Gaussian with standard deviation ``angular_spread_deg``.  ``E||H_k||_F^2 = N_t N_r``.
    ``N_RF`` does not enter the channel; it is accepted so sweeps can pass one dict of sizes.

    Returns ``{"H"}``: complex ``(batch, K, N_r, N_t)``, ``H[b, k] = H_k`` (BS -> UE ``k``, ``y = H_k x``).
    """
    rng = _Rng(generator, seed)
    H = _saleh_valenzuela(rng, batch, K, N_r, N_t, n_clusters, n_rays, angular_spread_deg, spread)
    return _finish({"H": H}, device, dtype)


def sample_hybrid_precoding_miso(batch: int, *, generator: torch.Generator | None = None, seed: int | None = None,
                                 device=None, dtype: torch.dtype = torch.float32, N_t: int = 8, N_RF: int = 6,
                                 K: int = 2, n_clusters: int = 8, n_rays: int = 10,
                                 angular_spread_deg: float = 10.0, spread: str = "laplacian") -> dict[str, Tensor]:
    """MU-MISO hybrid-precoding channels: :func:`sample_hybrid_precoding` with ``N_r = 1``.

    Returns ``{"H"}``: complex ``(batch, K, N_t)``, row ``k`` is UE ``k``'s channel (``y_k = H_k x``),
    ``E||H_k||^2 = N_t``.
    """
    rng = _Rng(generator, seed)
    H = _saleh_valenzuela(rng, batch, K, 1, N_t, n_clusters, n_rays, angular_spread_deg, spread)
    return _finish({"H": H[:, :, 0, :]}, device, dtype)


# --------------------------------------------------------------------------- ENGNN normalisation
def _engnn_scale(ref_power_dbm: float, ref_noise_dbm: float) -> float:
    """Amplitude factor ``sqrt(P_ref) / sigma_ref`` applied to every ENGNN channel."""
    return math.sqrt(dbm_to_watt(ref_power_dbm) / dbm_to_watt(ref_noise_dbm))


def _budget_and_noise(batch: int, n_tx, n_rx, p_max_dbm: float, noise_dbm: float, ref_power_dbm: float,
                      ref_noise_dbm: float, device) -> tuple[Tensor, Tensor]:
    """Normalised budgets ``P/P_ref`` (shape ``n_tx``) and noise stds ``sigma/sigma_ref`` (``n_rx``)."""
    p = torch.full((batch, *n_tx), 10.0 ** ((p_max_dbm - ref_power_dbm) / 10.0), dtype=torch.float64, device=device)
    s = torch.full((batch, *n_rx), 10.0 ** ((noise_dbm - ref_noise_dbm) / 20.0), dtype=torch.float64, device=device)
    return p, s


# --------------------------------------------------------------------------- 3. IC beamforming
def sample_ic_beamforming_node(batch: int, *, generator: torch.Generator | None = None, seed: int | None = None,
                               device=None, dtype: torch.dtype = torch.float32, K: int = 20, N: int = 2,
                               field: float | tuple[float, float] = 2000.0,
                               pair_distance: tuple[float, float] = (50.0, 250.0), p_max_dbm: float = 33.0,
                               noise_dbm: float = -99.0, ref_power_dbm: float = 33.0,
                               ref_noise_dbm: float = -99.0, channel: str = "simple",
                               fc_ghz: float = 3.5) -> dict[str, Tensor]:
    """Interference-channel beamforming channels (ENGNN §II-B Example 1, §IV-A).

    ``K`` BSs uniform in a ``field x field`` m^2 square; UE ``k`` at a distance uniform in
    ``pair_distance`` from BS ``k`` in a uniform direction (it may fall outside the square).
    ``field=(lo, hi)`` draws each sample's side uniform in ``[lo, hi]`` m (a spread of BS
    densities, hence interference levels: ENGNN Fig. 7 varies the side from 2 to 4.5 km).
    ``h_{m,k} = 10^(-PL/20) CN(0, I_N)`` with ``PL = 30.5 + 36.7 log10(d)``.

    Normalisation (exact, the objective equals the physical sum rate): powers are in units of
    ``P_ref`` (``ref_power_dbm``) and noise in units of ``sigma_ref^2`` (``ref_noise_dbm``), i.e.
    ``H = h sqrt(P_ref)/sigma_ref``, ``p_max = P/P_ref`` (1 by default), ``sigma = sigma_n/sigma_ref``
    (1 by default).  Budget or noise sweeps change ``p_max``/``sigma``, not ``H``.

    Returns ``H`` complex ``(batch, K, K, N)`` with ``H[b, m, k, :] = h_{m,k}`` (BS ``m`` -> UE
    ``k``), ``p_max`` ``(batch, K)``, ``sigma`` ``(batch, K)``.

    ``channel="umi"`` or ``"uma"``: the same layout, ``h`` drawn from 3GPP TR 38.901 at ``fc_ghz``
    (:mod:`designer.wireless.tr38901`, the ``sionna`` extra), normalised alike.
    """
    rng = _Rng(generator, seed)
    bs = _in_square(rng, (batch, K), field)
    ue = _around(rng, bs, *pair_distance)
    H = _link_channels(rng, bs, ue, N, pathloss_engnn_db, channel, fc_ghz) * _engnn_scale(ref_power_dbm, ref_noise_dbm)
    p_max, sigma = _budget_and_noise(batch, (K,), (K,), p_max_dbm, noise_dbm, ref_power_dbm, ref_noise_dbm, rng.device)
    return _finish({"p_max": p_max, "sigma": sigma, "H": H}, device, dtype)


def sample_ic_beamforming_edge(batch: int, **kwargs) -> dict[str, Tensor]:
    """Same scenario and features as :func:`sample_ic_beamforming_node` (only the action differs)."""
    return sample_ic_beamforming_node(batch, **kwargs)


sample_ic_beamforming_edge.__signature__ = inspect.signature(sample_ic_beamforming_node)


# --------------------------------------------------------------------------- 4. IBC power allocation
def sample_ibc_power_allocation(batch: int, *, generator: torch.Generator | None = None, seed: int | None = None,
                                device=None, dtype: torch.dtype = torch.float32, B: int = 5, Q: int = 2,
                                N: int = 16, field: float = 2000.0, min_bs_distance: float = 500.0,
                                ue_distance: tuple[float, float] = (50.0, 250.0), p_max_dbm: float = 33.0,
                                noise_dbm: float = -99.0, ref_noise_dbm: float = -99.0,
                                beamformer: str = "zf", channel: str = "simple", fc_ghz: float = 3.5
                                ) -> dict[str, Tensor]:
    """IBC power-allocation channels (ENGNN §II-B Example 2, §IV-B).

    ``B`` BSs uniform in a ``field``-m square, pairwise at least ``min_bs_distance`` apart; ``Q``
    UEs per BS at a distance uniform in ``ue_distance``; ``N`` antennas per BS; Rayleigh fading
    with ENGNN path loss; unit-norm ZF beams within each cell (:func:`cell_beams`), so intra-cell
    gains ``G[c, q, c, r]`` (``q != r``) vanish.  Normalisation as in
    :func:`sample_ic_beamforming_node` with the budget itself as the reference power
    (``P_ref = P_max``, as MCMU's powers are fractions of ``P_max``): the spec's budget is the
    constant 1 (``specs/ibc_power_allocation.yaml``: ``p_max`` lies on the Tx nodes, the budget
    on the cells), so ``p_max`` is 1 at every ``p_max_dbm`` and a budget sweep (ENGNN Fig. 11)
    scales ``G`` by ``sqrt(P_max)`` instead — a model's powers in ``[0, 1]`` then always keep
    the budget.

    Returns ``G`` real ``(batch, B, Q, B, Q)`` with ``G[b, c, q, d, r] = |h_{c, r_d}^H w_{q_c}|``
    sqrt(P_max)/sigma_ref (amplitude, ENGNN eq. 10; Tx node ``(c, q)`` -> UE ``r`` of cell ``d``),
    ``p_max`` ``(batch, B, Q)`` (1: each BS's budget in units of itself, repeated over its ``Q`` Tx nodes), ``sigma``
    ``(batch, B, Q)``. ``channel="umi"``/``"uma"``: 3GPP TR 38.901 channels at ``fc_ghz``.
    """
    rng = _Rng(generator, seed)
    bs = _positions_min_distance(rng, batch, B, field, min_bs_distance)
    ue = _around(rng, bs.unsqueeze(2).expand(batch, B, Q, 2), *ue_distance)
    h = _link_channels(rng, bs, ue.reshape(batch, B * Q, 2), N, pathloss_engnn_db, channel, fc_ghz)
    h = h.reshape(batch, B, B, Q, N)
    eff = equivalent_channels(h, cell_beams(_own_cell(h), beamformer))
    G = eff.abs() * _engnn_scale(p_max_dbm, ref_noise_dbm)
    p_max, sigma = _budget_and_noise(batch, (B, Q), (B, Q), p_max_dbm, noise_dbm, p_max_dbm, ref_noise_dbm,
                                     rng.device)
    return _finish({"p_max": p_max, "sigma": sigma, "G": G}, device, dtype)


# --------------------------------------------------------------------------- 5. cooperative beamforming
def sample_cooperative_beamforming(batch: int, *, generator: torch.Generator | None = None, seed: int | None = None,
                                   device=None, dtype: torch.dtype = torch.float32, M: int = 5, K: int = 2,
                                   N: int = 2, field: float = 2000.0, min_bs_distance: float = 500.0,
                                   ue_distance: tuple[float, float] | None = None, p_max_dbm: float = 33.0,
                                   noise_dbm: float = -99.0, ref_power_dbm: float = 33.0,
                                   ref_noise_dbm: float = -99.0, channel: str = "simple",
                                   fc_ghz: float = 3.5) -> dict[str, Tensor]:
    """Cooperative beamforming channels (ENGNN §II-B Example 3, §IV-C).

    ``M`` BSs uniform in a ``field``-m square, pairwise at least ``min_bs_distance`` apart.  UEs
    uniform in the square (ENGNN: "BSs and UEs are uniformly distributed"), or, if
    ``ue_distance=(lo, hi)``, each at a distance uniform in ``[lo, hi]`` from a uniformly chosen
    BS.  Rayleigh fading with ENGNN path loss; normalisation as in
    :func:`sample_ic_beamforming_node`.

    Returns ``H`` complex ``(batch, M, K, N)`` with ``H[b, m, k, :] = h_{m,k}`` (BS ``m`` -> UE
    ``k``), ``p_max`` ``(batch, M)``, ``sigma`` ``(batch, K)``. ``channel="umi"``/``"uma"``:
    3GPP TR 38.901 channels at ``fc_ghz``.
    """
    rng = _Rng(generator, seed)
    bs = _positions_min_distance(rng, batch, M, field, min_bs_distance)
    if ue_distance is None:
        ue = rng.uniform((batch, K, 2), 0.0, field)
    else:
        host = torch.floor(rng.uniform((batch, K), 0.0, M)).long().clamp(max=M - 1)
        ue = _around(rng, torch.gather(bs, 1, host.unsqueeze(-1).expand(batch, K, 2)), *ue_distance)
    H = _link_channels(rng, bs, ue, N, pathloss_engnn_db, channel, fc_ghz) * _engnn_scale(ref_power_dbm, ref_noise_dbm)
    p_max, sigma = _budget_and_noise(batch, (M,), (K,), p_max_dbm, noise_dbm, ref_power_dbm, ref_noise_dbm, rng.device)
    return _finish({"p_max": p_max, "sigma": sigma, "H": H}, device, dtype)


# --------------------------------------------------------------------------- 6. D2D
def sample_d2d_link_scheduling(batch: int, *, generator: torch.Generator | None = None, seed: int | None = None,
                               device=None, dtype: torch.dtype = torch.float32, K: int = 50, field: float = 500.0,
                               pair_distance: tuple[float, float] = (2.0, 65.0), fc_ghz: float = 2.4,
                               antenna_height: float = 1.5, tx_power_dbm: float = 40.0,
                               noise_dbm_per_hz: float = -169.0, bandwidth_hz: float = 5e6,
                               fading: bool = True, density: float | None = None) -> dict[str, Tensor]:
    """D2D link-scheduling / power-control channels (Zhao et al. §2-A example).

    ``K`` transmitters uniform in a ``field x field`` m^2 square (with ``density``, pairs per
    km^2, the square that holds ``K`` pairs at that density instead: ``field = 1000 sqrt(K /
    density)`` m, so networks of any size look alike locally; the default layout is 200); receiver ``j`` at a distance
    uniform in ``pair_distance`` from transmitter ``j`` in a uniform direction (the layout of
    common D2D scheduling benchmarks: 50 pairs in 500 m x 500 m, 2-65 m links).  Path loss:
    :func:`pathloss_two_slope_db` (2.4 GHz, 1.5 m antennas); Rayleigh power fading ``|CN(0,1)|^2``
    if ``fading``; transmit power 40 dBm; noise ``-169 dBm/Hz x 5 MHz``.

    Returns ``{"H"}``: real ``(batch, K, K)``, ``H[b, i, j] = |h_ij|^2 P / sigma^2`` from Tx ``i``
    to Rx ``j``.
    """
    rng = _Rng(generator, seed)
    if density is not None:
        field = 1000.0 * math.sqrt(K / density)
    tx = rng.uniform((batch, K, 2), 0.0, field)
    rx = _around(rng, tx, *pair_distance)
    d = _distances(tx, rx)
    loss_db = pathloss_two_slope_db(d, fc_ghz, antenna_height, antenna_height)
    noise_dbm = noise_dbm_per_hz + 10.0 * math.log10(bandwidth_hz)
    H = 10.0 ** ((tx_power_dbm - noise_dbm - loss_db) / 10.0)
    if fading:
        g = rng.cn((batch, K, K))
        H = H * (g.real.square() + g.imag.square())
    return _finish({"H": H}, device, dtype)


# --------------------------------------------------------------------------- 7. CoMP-JT
def sample_comp_jt(batch: int, *, generator: torch.Generator | None = None, seed: int | None = None, device=None,
                   dtype: torch.dtype = torch.float32, B: int = 3, N: int = 4, inter_site_distance: float = 500.0,
                   min_distance: float = 10.0, p_max_dbm: float = 33.0,
                   noise_dbm: float = -99.0) -> dict[str, Tensor]:
    """CoMP-JT channels: ``B`` BSs with ``N`` antennas jointly serving one single-antenna UE.

    Layout (our choice; Zhao gives none): BSs at the vertices of a regular ``B``-gon with
    neighbouring BSs ``inter_site_distance`` apart; the UE uniform in the disc circumscribing the
    polygon; BS-UE distances clamped below at ``min_distance``.  ENGNN path loss and Rayleigh
    fading; SNR normalised: ``h = h_phys sqrt(P_BS)/sigma`` (per-BS budget ``p_max_dbm``, noise
    ``noise_dbm``), so per-BS power is normalised to 1 and the noise to 1.

    Returns ``{"h"}``: complex ``(batch, B, N, 1)`` (dims [AN, UE], UE a set of size 1),
    ``h[b, m, n, 0]`` = channel from antenna ``n`` of BS ``m`` (received ``sum conj(h) v``).
    """
    rng = _Rng(generator, seed)
    R = inter_site_distance / (2.0 * math.sin(math.pi / B)) if B > 1 else inter_site_distance
    ang = 2.0 * math.pi * torch.arange(B, dtype=torch.float64, device=rng.device) / B
    bs = (R * torch.stack([torch.cos(ang), torch.sin(ang)], dim=-1)).expand(batch, B, 2)
    ue = _in_annulus(rng, torch.zeros(batch, 1, 2, dtype=torch.float64, device=rng.device), 0.0, R)
    d = _distances(bs, ue, floor=min_distance)[..., 0]  # (batch, B)
    snr_db = p_max_dbm - noise_dbm - pathloss_engnn_db(d)
    h = torch.sqrt(10.0 ** (snr_db / 10.0)).unsqueeze(-1) * rng.cn((batch, B, N))
    return _finish({"h": h.unsqueeze(-1)}, device, dtype)


# --------------------------------------------------------------------------- 8. MU-MISO
def sample_mu_miso_precoding(batch: int, *, generator: torch.Generator | None = None, seed: int | None = None,
                             device=None, dtype: torch.dtype = torch.float32, K: int = 4, N: int = 8,
                             snr_db: float = 10.0) -> dict[str, Tensor]:
    """MU-MISO baseband-precoding channels: i.i.d. Rayleigh, SNR folded into ``H``.

    ``H = sqrt(10^(snr_db/10)) CN(0, 1)`` entries, where ``snr_db = P/sigma^2`` with total transmit
    power ``P``; precoders are then normalised to ``||V||_F^2 <= 1`` and the noise to 1.

    Returns ``{"H"}``: complex ``(batch, K, N)``, row ``k`` = UE ``k``'s channel (``y_k = H_k x``).
    """
    rng = _Rng(generator, seed)
    H = math.sqrt(10.0 ** (snr_db / 10.0)) * rng.cn((batch, K, N))
    return _finish({"H": H}, device, dtype)
