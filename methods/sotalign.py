"""SOTAlign: a linear teacher fitted on the pairs in closed form, then the heads trained with CLIP on the
pairs and KLOT on the unpaired rows of both modalities (docs/methods.md, "SOTAlign")."""

from __future__ import annotations

from torch import Tensor

from bench.params import Param
from methods.base import BatchEmbeddings, FitData, Method
from methods.cca import CCA_PARAMS, CcaFit, fit_cca
from methods.clip import clip_term
from methods.losses import klot


class SotAlign(Method):
    """L = L_CLIP + w_klot · KL(P* ‖ P): P, P* the OT plans of the student's and the CCA teacher's kernels
    between the batch's unpaired A and unpaired B rows."""

    name = "sotalign"
    label = "SOTAlign"
    order = 90
    fits = True
    source = (
        "Roschmann, Krzakala et al., arXiv 2602.23353 (ICML 2026), code ExplainableML/SOTAlign "
        "(src/klot.py); the teacher is the cca fit"
    )
    params = {
        "w_klot": Param(
            1.0,
            "weight of KLOT on the unpaired rows (0 removes it)",
            low=0.01,
            high=100.0,
            log=True,
            valid="[0, inf)",
        ),
        "eps_student": Param(
            0.05, "entropic ε of the student's plan", low=0.01, high=0.5, log=True, valid="(0, inf)"
        ),
        "eps_teacher": Param(
            0.005, "entropic ε of the teacher's plan", low=0.001, high=0.1, log=True, valid="(0, inf)"
        ),
        "sinkhorn_iters": Param(100, "Sinkhorn iterations of each plan", valid="[1, inf)"),
        **{f"teacher_{k}": p for k, p in CCA_PARAMS.items()},
    }

    def __init__(self, **values):
        super().__init__(**values)
        self.teacher: CcaFit | None = None

    def fit(self, data: FitData) -> None:
        """The teacher: the cca fit of the paired frozen features (methods/cca.py `fit_cca`)."""
        p = self.p
        dim, ridge, weighting = p["teacher_dim"], p["teacher_ridge"], p["teacher_weighting"]
        self.teacher = fit_cca(data.a_p, data.b_p, dim, ridge, weighting)

    def weights(self) -> dict[str, float]:
        return {"clip": 1.0, "klot": self.p["w_klot"]}

    def embeddings(self) -> frozenset[str]:
        klot_keys = {"a_u", "b_u", "feat_a_u", "feat_b_u"} if self.p["w_klot"] else set()
        return frozenset({"a_p", "b_p", *klot_keys})

    def terms(self, batch: BatchEmbeddings) -> dict[str, Tensor]:
        if batch.n_paired == 0:  # no pairs, no teacher (r = 0: the engine reports the untrained model)
            return {}
        out = {"clip": clip_term(batch, False)}
        if self.p["w_klot"] and len(batch.a_u) and len(batch.b_u):
            if self.teacher is None:
                raise RuntimeError("sotalign: fit the teacher (Method.fit) before computing its terms")
            teacher = self.teacher.embed_a(batch.feat_a_u) @ self.teacher.embed_b(batch.feat_b_u).T
            student = batch.a_u @ batch.b_u.T
            p = self.p
            out["klot"] = klot(student, teacher, p["eps_student"], p["eps_teacher"], p["sinkhorn_iters"])
        return out
