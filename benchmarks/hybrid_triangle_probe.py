"""Probe: does pairing edges through triangles let an EdgeGNN learn MU-MISO hybrid precoding?

A hand-written dense EdgeGNN on the hybrid-precoding graph — UE–antenna edges ``A (b, K, N, d)``
(the channel ``H``), antenna–RF edges ``B (b, N, R, d)`` (``W_RF``), RF–UE edges
``C (b, R, K, d)`` (``W_BB``); RF chains told apart by a learned code per index, as
``break_symmetry: index`` does — trained with and without *triangle messages*: for an
antenna–RF edge (n, r), ``sum_k f(C[r, k], A[k, n])``, and likewise for the other two edge
types. Without them each edge pools its neighbours through each endpoint separately (Zhao
eq. 6 with mean pooling), which cannot pair ``H[k, n]`` with the UE k that RF chain r serves
(docs/RESULTS.md, hybrid precoding). Both variants are S_K × S_N-equivariant; the script
reports each one's sum rate against the GLRAM-style reference on the test set.

    PYTHONPATH=. python benchmarks/hybrid_triangle_probe.py                # about 10 minutes on 2 cores
"""

from __future__ import annotations

import argparse
import math
import time

import torch
from torch import nn

from designer.training import problem_for, reference_for, sample

SIZES = {"N_RF": 6, "N_t": 8, "K": 2}


def mlp(inputs: int, d: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(inputs, d), nn.Tanh(), nn.Linear(d, d), nn.Tanh())


class TriangleEdgeGNN(nn.Module):
    """Dense EdgeGNN for MU-MISO hybrid precoding; ``triangles`` adds the paired messages."""

    def __init__(self, n_rf: int, d: int, layers: int, triangles: bool):
        super().__init__()
        self.triangles, self.d = triangles, d
        self.embed_a = nn.Linear(2, d)
        self.rf_code = nn.Parameter(torch.randn(n_rf, d) * 0.5)  # break_symmetry: index
        self.c0 = nn.Parameter(torch.randn(d) * 0.1)
        pooled = 5 * d + (d if triangles else 0)
        self.update = nn.ModuleList(nn.ModuleDict({t: mlp(pooled, d) for t in "ABC"}) for _ in range(layers))
        self.pair = nn.ModuleList(nn.ModuleDict({t: mlp(2 * d, d) for t in "ABC"}) for _ in range(layers))
        self.out_b, self.out_c = nn.Linear(d, 2), nn.Linear(d, 2)

    def forward(self, H: torch.Tensor) -> dict[str, torch.Tensor]:
        b, K, N = H.shape
        R = self.rf_code.shape[0]
        A = torch.tanh(self.embed_a(torch.stack([H.real, H.imag], -1)))  # (b, K, N, d)
        B = self.rf_code.expand(b, N, R, self.d)  # (b, N, R, d)
        C = self.c0.expand(b, R, K, self.d)  # (b, R, K, d)
        for update, pair in zip(self.update, self.pair):
            # neighbours through each endpoint, mean pooled (edge A[k, n]: through k: A[k, :], C[:, k]; ...)
            a_in = [A, A.mean(2, keepdim=True).expand_as(A), A.mean(1, keepdim=True).expand_as(A),
                    C.mean(1).unsqueeze(2).expand_as(A), B.mean(2).unsqueeze(1).expand_as(A)]
            b_in = [B, B.mean(2, keepdim=True).expand_as(B), B.mean(1, keepdim=True).expand_as(B),
                    A.mean(1).unsqueeze(2).expand_as(B), C.mean(2).unsqueeze(1).expand_as(B)]
            c_in = [C, C.mean(2, keepdim=True).expand_as(C), C.mean(1, keepdim=True).expand_as(C),
                    B.mean(1).unsqueeze(2).expand_as(C), A.mean(2).unsqueeze(1).expand_as(C)]
            if self.triangles:  # pair the two other edges of each triangle (k, n, r), mean over the third vertex
                a_in.append(pair["A"](torch.cat([B.unsqueeze(1).expand(b, K, N, R, self.d),
                                                 C.permute(0, 2, 1, 3).unsqueeze(2).expand(b, K, N, R, self.d)], -1)).mean(3))
                b_in.append(pair["B"](torch.cat([A.permute(0, 2, 1, 3).unsqueeze(2).expand(b, N, R, K, self.d),
                                                 C.unsqueeze(1).expand(b, N, R, K, self.d)], -1)).mean(3))
                c_in.append(pair["C"](torch.cat([B.permute(0, 2, 1, 3).unsqueeze(2).expand(b, R, K, N, self.d),
                                                 A.unsqueeze(1).expand(b, R, K, N, self.d)], -1)).mean(3))
            A, B, C = (update[t](torch.cat(parts, -1)) for t, parts in (("A", a_in), ("B", b_in), ("C", c_in)))
        w = self.out_b(B)
        w = torch.complex(w[..., 0], w[..., 1])
        W_RF = w / w.abs().clamp_min(1e-12) / math.sqrt(N)  # constant modulus by normalisation, as the runtime
        c = self.out_c(C)
        W_BB = torch.complex(c[..., 0], c[..., 1])
        scale = (K / torch.linalg.matrix_norm(W_RF @ W_BB).square().clamp_min(1e-12)).sqrt()
        return {"W_RF": W_RF, "W_BB": W_BB * scale.view(-1, 1, 1)}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=800)
    parser.add_argument("--steps", type=int, default=1500)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--hidden", type=int, default=32)
    parser.add_argument("--layers", type=int, default=4)
    parser.add_argument("--lr", type=float, default=1e-3)
    args = parser.parse_args(argv)
    problem = problem_for("hybrid_precoding_miso")
    train = sample(problem, args.samples, SIZES, 0, "cpu")
    test = sample(problem, 1000, SIZES, 12345, "cpu")
    reference = problem.sum_rate(test, reference_for(problem, SIZES)(test)).mean().item()
    print(f"MU-MISO hybrid precoding {SIZES}, {args.samples} training samples, {args.steps} steps, "
          f"hidden {args.hidden}, {args.layers} layers; reference {reference:.2f} bits/s/Hz on 1000 test samples")
    for triangles in (False, True):
        torch.manual_seed(0)
        model = TriangleEdgeGNN(SIZES["N_RF"], args.hidden, args.layers, triangles)
        optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
        began = time.perf_counter()
        for step in range(args.steps):
            index = torch.randint(args.samples, (args.batch,), generator=torch.Generator().manual_seed(step))
            rate = problem.sum_rate({"H": train["H"][index]}, model(train["H"][index])).mean()
            optimizer.zero_grad()
            (-rate).backward()
            optimizer.step()
        with torch.no_grad():
            score = problem.sum_rate(test, model(test["H"])).mean().item()
        print(f"| triangle messages: {'yes' if triangles else 'no'} | {score:.2f} bits/s/Hz | "
              f"{100 * score / reference:.1f} % | {time.perf_counter() - began:.0f} s |", flush=True)


if __name__ == "__main__":
    main()
