"""Which stage of a learned hybrid precoder falls short (docs/RESULTS.md, hybrid precoding)?

Scores, on the MU-MISO test set (1000 samples, seed 12345, bits/s/Hz): a trained model's
(W_RF, W_BB) as it stands; the same W_RF with the model's W_BB replaced by zero-forcing on the
effective channel H W_RF (``W_BB = (H W_RF)^+``, scaled to ||W_RF W_BB||_F^2 = K, Zhao eq. 3a's
budget); the analog matched filter (the phases of conj(h_k) on RF chain k, other chains at
random phases) with the same ZF digital stage; and the reference. If ZF on the model's W_RF
recovers most of the gap, the analog beams are learned and the digital stage is what is
missing. Then the shape of each analog precoder: sigma_2 / sigma_1 of W_RF (0 for rank one),
and the phase coherence |mean_n exp(j angle W_RF[n, r])| of a column over the antennas (1 when
every antenna of RF chain r has the same phase, i.e. the beam ignores the channel; about
1/sqrt(N_t) for phases that follow a random channel).

    PYTHONPATH=. python benchmarks/hybrid_digital_diagnostic.py runs/table3_miso_long/edge_n800
"""

from __future__ import annotations

import argparse
import math

import torch

from designer.evaluation import load_model
from designer.training import problem_for, reference_for, sample


def zf_digital(H: torch.Tensor, W_RF: torch.Tensor, K: int) -> torch.Tensor:
    """Zero-forcing ``W_BB (batch, N_RF, K)`` on ``H W_RF`` (``H (batch, K, N_t)``), scaled so
    that ``||W_RF W_BB||_F^2 = K``."""
    W_BB = torch.linalg.pinv(H @ W_RF)
    norm = torch.linalg.matrix_norm(W_RF @ W_BB).square()
    return W_BB * (K / norm).sqrt().view(-1, 1, 1)


def matched_filter_analog(H: torch.Tensor, n_rf: int, generator: torch.Generator) -> torch.Tensor:
    """``W_RF (batch, N_t, N_RF)``: column k < K the phases of conj(h_k), the rest random phases,
    entries of modulus 1/sqrt(N_t)."""
    batch, K, n_t = H.shape
    phases = torch.rand(batch, n_t, n_rf, generator=generator, dtype=H.real.dtype) * 2 * math.pi
    phases[:, :, :K] = H.conj().angle().transpose(1, 2)
    W = torch.polar(torch.ones_like(phases), phases)
    return W / math.sqrt(n_t)


def analog_shape(W_RF: torch.Tensor) -> tuple[float, float]:
    """(mean sigma_2 / sigma_1, mean column phase coherence over the antennas) of ``W_RF
    (batch, N_t, N_RF)``."""
    sigma = torch.linalg.svdvals(W_RF)
    coherence = torch.polar(torch.ones_like(W_RF.real), W_RF.angle()).mean(dim=1).abs()
    return (sigma[:, 1] / sigma[:, 0]).mean().item(), coherence.mean().item()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", help="run directory of a hybrid_precoding_miso model")
    parser.add_argument("--samples", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=12345)
    args = parser.parse_args(argv)
    model, config = load_model(args.run)
    problem = problem_for(config.problem)
    features = sample(problem, args.samples, config.sizes, args.seed, "cpu")
    H = features["H"]
    K, n_rf = H.shape[1], config.sizes["N_RF"]
    with torch.no_grad():
        actions = model(**features)
    rate = lambda W_RF, W_BB: problem.sum_rate(features, {"W_RF": W_RF, "W_BB": W_BB}).mean().item()  # noqa: E731
    analog = matched_filter_analog(H, n_rf, torch.Generator().manual_seed(args.seed))
    reference = problem.sum_rate(features, reference_for(problem, config.sizes)(features)).mean().item()
    rows = {"model (W_RF, W_BB)": rate(actions["W_RF"], actions["W_BB"]),
            "model W_RF + ZF digital": rate(actions["W_RF"], zf_digital(H, actions["W_RF"], K)),
            "analog matched filter + ZF digital": rate(analog, zf_digital(H, analog, K)),
            "reference": reference}
    print(f"{args.run}: {config.problem} at {config.sizes}, {args.samples} test samples (seed {args.seed})")
    print("| precoder | sum rate (bits/s/Hz) | ratio to the reference |")
    print("|---|---|---|")
    for name, value in rows.items():
        print(f"| {name} | {value:.2f} | {100 * value / reference:.1f} % |")
    print("\n| analog precoder | sigma_2 / sigma_1 | phase coherence over antennas |\n|---|---|---|")
    for name, W_RF in (("model", actions["W_RF"]), ("matched filter", analog)):
        ratio, coherence = analog_shape(W_RF)
        print(f"| {name} | {ratio:.3f} | {coherence:.3f} |")


if __name__ == "__main__":
    main()
