"""Which stage of a learned hybrid precoder falls short (docs/RESULTS.md, hybrid precoding)?

Scores, on the test set (1000 samples, seed 12345, bits/s/Hz): a trained model's (W_RF, W_BB)
as it stands; the same W_RF with the model's W_BB replaced by zero-forcing on the composite
channel (``W_BB = (H_eff W_RF)^+`` with ``H_eff[k] = v_k^H H_k``, ``v_k = 1`` for MU-MISO, scaled
to ||W_RF W_BB||_F^2 = K, Zhao eq. 3a's budget); the analog matched filter (the phases of
conj(h_k) on RF chain k, other chains at random phases; MU-MISO) with the same ZF digital
stage; and the reference. If ZF on the model's W_RF recovers most of the gap, the analog beams
are learned and the digital stage is what is missing. For MU-MIMO the stages are crossed with
the reference's (its analog combiners V_RF, its W_RF), and the misalignments (1 - cos^2, the
imitation loss's measure) of the model's overall beams W_RF W_BB and combiners to the
reference's are printed, with that of uniformly random combiners for scale. Then the shape of
each analog precoder: sigma_2 / sigma_1 of W_RF (0 for rank one), and the phase coherence
|mean_n exp(j angle W_RF[n, r])| of a column over the antennas (1 when every antenna of RF
chain r has the same phase, i.e. the beam ignores the channel; about 1/sqrt(N_t) for phases
that follow a random channel).

    PYTHONPATH=. python benchmarks/hybrid_digital_diagnostic.py runs/table3_miso_long/edge_n800
    PYTHONPATH=. python benchmarks/hybrid_digital_diagnostic.py runs/mimo_augclip_i100_n6000
"""

from __future__ import annotations

import argparse
import math

import torch

from designer.evaluation import load_model
from designer.training import problem_for, reference_for, sample
from designer.wireless.objectives import beam_misalignment, hybrid_combiners, hybrid_composite_channel


def zf_digital(H: torch.Tensor, W_RF: torch.Tensor, K: int) -> torch.Tensor:
    """Zero-forcing ``W_BB (batch, N_RF, K)`` on ``H W_RF`` (``H (batch, K, N_t)``, a composite
    channel for MU-MIMO), scaled so that ``||W_RF W_BB||_F^2 = K``."""
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


def stage_rows(problem, features: dict, actions: dict, reference: dict, K: int, seed: int,
               analog: torch.Tensor | None = None) -> dict:
    """Sum rate (bits/s/Hz) of each combination of stages (see the module docstring); ``analog``:
    the matched-filter ``W_RF`` for MU-MISO."""
    H = features["H"]

    def rate(W_RF, W_BB, V_RF=None):
        stages = {"W_RF": W_RF, "W_BB": W_BB} | ({} if V_RF is None else {"V_RF": V_RF})
        return problem.sum_rate(features, stages).mean().item()

    def zf_rate(W_RF, V_RF=None):
        return rate(W_RF, zf_digital(hybrid_composite_channel(H, V_RF), W_RF, K), V_RF)

    if H.dim() == 3:  # MU-MISO
        return {"model (W_RF, W_BB)": rate(actions["W_RF"], actions["W_BB"]),
                "model W_RF + ZF digital": zf_rate(actions["W_RF"]),
                "analog matched filter + ZF digital": zf_rate(analog),
                "reference": rate(reference["W_RF"], reference["W_BB"])}
    mine, theirs = actions["V_RF"], reference["V_RF"]
    return {"model (W_RF, W_BB, V_RF)": rate(actions["W_RF"], actions["W_BB"], mine),
            "model W_RF + ZF digital, model V_RF": zf_rate(actions["W_RF"], mine),
            "model W_RF + ZF digital, reference V_RF": zf_rate(actions["W_RF"], theirs),
            "reference W_RF + ZF digital, model V_RF": zf_rate(reference["W_RF"], mine),
            "reference W_RF + ZF digital, random V_RF": zf_rate(reference["W_RF"], random_combiners(mine, seed)),
            "reference": rate(reference["W_RF"], reference["W_BB"], theirs)}


def random_combiners(V_RF: torch.Tensor, seed: int) -> torch.Tensor:
    """Block-diagonal combiners shaped like ``V_RF`` with uniformly random phases."""
    batch, K, n_r, _ = V_RF.shape
    phases = torch.rand(batch, K, n_r, generator=torch.Generator().manual_seed(seed), dtype=V_RF.real.dtype)
    v = torch.polar(torch.full_like(phases, 1 / math.sqrt(n_r)), 2 * math.pi * phases)
    return v.unsqueeze(-1) * torch.eye(K, dtype=V_RF.dtype)[:, None, :]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", help="run directory (or checkpoint) of a hybrid precoding model")
    parser.add_argument("--samples", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=12345)
    args = parser.parse_args(argv)
    model, config = load_model(args.run)
    problem = problem_for(config.problem)
    features = sample(problem, args.samples, config.sizes, args.seed, "cpu", config.scenario)
    K, n_rf = features["H"].shape[1], config.sizes["N_RF"]
    with torch.no_grad():
        actions = model(**features)
    reference = reference_for(problem, config.sizes)(features)
    analog = None if "V_RF" in actions else matched_filter_analog(features["H"], n_rf,
                                                                   torch.Generator().manual_seed(args.seed))
    rows = stage_rows(problem, features, actions, reference, K, args.seed, analog)
    top = rows["reference"]
    print(f"{args.run}: {config.problem} at {config.sizes}, {args.samples} test samples (seed {args.seed})")
    print("| precoder | sum rate (bits/s/Hz) | ratio to the reference |")
    print("|---|---|---|")
    for name, value in rows.items():
        print(f"| {name} | {value:.2f} | {100 * value / top:.1f} % |")
    if "V_RF" in actions:
        beams = beam_misalignment(actions["W_RF"] @ actions["W_BB"], reference["W_RF"] @ reference["W_BB"])
        mine, theirs = hybrid_combiners(actions["V_RF"]), hybrid_combiners(reference["V_RF"])
        chance = hybrid_combiners(random_combiners(actions["V_RF"], args.seed))
        print("\n| misalignment to the reference (1 - cos^2) | mean |\n|---|---|")
        print(f"| overall beams W_RF W_BB | {beams.mean().item():.3f} |")
        print(f"| combiners v_k | {beam_misalignment(mine, theirs).mean().item():.3f} |")
        print(f"| random combiners | {beam_misalignment(chance, theirs).mean().item():.3f} |")
    print("\n| analog precoder | sigma_2 / sigma_1 | phase coherence over antennas |\n|---|---|---|")
    shapes = [("model", actions["W_RF"]), ("reference", reference["W_RF"])]
    if analog is not None:
        shapes.append(("matched filter", analog))
    for name, W_RF in shapes:
        ratio, coherence = analog_shape(W_RF)
        print(f"| {name} | {ratio:.3f} | {coherence:.3f} |")


if __name__ == "__main__":
    main()
