"""Small specs shared by the compiler tests (kept as YAML text so the tests read like specs)."""

MCMU = """
name: mcmu
sets:
  cell: {size: M}
  AN: {size: K, parent: cell, axis: pair}
  UE: {size: K, parent: cell, related: AN}
tensors:
  H: {role: feature, dims: [UE, AN]}
  p: {role: action, dims: [AN]}
constraints:
  - {kind: nonnegative, tensor: p}
  - {kind: power_budget, tensor: p, per: cell, max: 1}
check_sizes: {M: 2, K: 2}
"""

COMP = """
name: comp
sets:
  BS: {size: B, axis: bs}
  AN: {size: N, parent: BS, axis: an}
  UE: {size: 1}
tensors:
  h: {role: feature, dims: [AN, UE], dtype: complex}
  v: {role: action, dims: [AN], dtype: complex}
check_sizes: {B: 2, N: 2}
"""

HYBRID_UNBROKEN = """
name: hybrid_unbroken
sets:
  RF_BS: {size: N_RF, axis: rf}
  AN_BS: {size: N_t, axis: an_bs}
  UE: {size: K, axis: ue}
  AN_UE: {size: N_r, parent: UE, axis: an_ue}
tensors:
  H: {role: feature, dims: [AN_UE, AN_BS], dtype: complex}
  W_RF: {role: action, dims: [AN_BS, RF_BS], dtype: complex}
  W_BB: {role: action, dims: [RF_BS, UE], dtype: complex}
  V_RF: {role: action, dims: [AN_UE, UE], dtype: complex, support: matched}
check_sizes: {N_RF: 2, N_t: 2, K: 2, N_r: 2}
"""

# Related sets with no tensor tying them: Aut = S_K × S_K ⊋ G = S_K, no nested set for S4new;
# the witness moves Tx alone, and a Tx–Rx edge orbit removes it.
RELATED_NO_EDGES = """
name: related_no_edges
sets:
  Tx: {size: K, axis: pair}
  Rx: {size: K, related: Tx}
tensors:
  a: {role: feature, dims: [Tx]}
  b: {role: action, dims: [Rx]}
check_sizes: {K: 3}
"""
