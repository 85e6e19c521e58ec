"""SOTAlign: a linear teacher fitted on the pairs in closed form, then the heads trained with a supervised
term on the pairs and KLOT on the unpaired rows of both modalities (docs/methods.md, "SOTAlign")."""

from __future__ import annotations

from dataclasses import replace

from torch import Tensor

from bench.params import Param
from methods.base import COMMON_PARAMS, BatchEmbeddings, FitData, Method
from methods.cca import CCA_PARAMS, CcaFit, fit_cca
from methods.clip import clip_term
from methods.losses import klot, sigmoid_loss

SIGLIP_TEMPERATURE = 0.1  # SigLIP's initial t' = log 10, s = 10 (Zhai et al. 2023, section 3.2)
SIGLIP_BIAS = -10.0  # SigLIP's initial b (same section)
TERM = {"sigmoid": "sigmoid", "infonce": "clip"}  # the supervised term's name, by `supervised`


class SotAlign(Method):
    """L = L_sup + w_klot · KL(P* ‖ P): L_sup SigLIP's sigmoid loss with a learnable scale and bias on the
    pairs (`supervised=infonce`: CLIP's symmetric InfoNCE); P, P* the OT plans of the student's kernel and
    of the CCA teacher's (the plain cosine of the teacher's projections; `teacher_weighting=correlation`:
    weighted by the canonical correlations) between the batch's unpaired A and unpaired B rows."""

    name = "sotalign"
    label = "SOTAlign"
    order = 90
    fits = True
    source = (
        "Roschmann, Krzakala et al., arXiv 2602.23353 (ICML 2026), code ExplainableML/SOTAlign "
        "(src/klot.py; assets/methodology.svg: the sigmoid loss and the teacher's cosine kernel); the "
        "teacher is the cca fit"
    )
    params = {
        "supervised": Param(
            "sigmoid",
            "supervised term on the pairs: SigLIP's sigmoid loss (the authors' figure) or CLIP's InfoNCE",
            ("sigmoid", "infonce"),
        ),
        "temperature": replace(
            COMMON_PARAMS["temperature"],
            default=SIGLIP_TEMPERATURE,
            help="initial temperature τ (s = 1/τ): SigLIP's t' = log 10 (τ = 0.1); CLIP's is 0.07",
        ),
        "bias": Param(
            SIGLIP_BIAS,
            "supervised=sigmoid: initial learnable logit bias b (SigLIP's −10)",
            valid="(-inf, inf)",
        ),
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
        "teacher_weighting": replace(
            CCA_PARAMS["weighting"],
            default="equal",
            help="teacher kernel: the plain cosine of its projections (the authors' figure), or weighted by "
            "the canonical correlations (CSA's score)",
        ),
    }

    def __init__(self, **values):
        super().__init__(**values)
        self.teacher: CcaFit | None = None

    def fit(self, data: FitData) -> None:
        """The teacher: the cca fit of the paired frozen features (methods/cca.py `fit_cca`)."""
        p = self.p
        dim, ridge, weighting = p["teacher_dim"], p["teacher_ridge"], p["teacher_weighting"]
        self.teacher = fit_cca(data.a_p, data.b_p, dim, ridge, weighting)

    def logit_bias(self) -> float | None:
        return self.p["bias"] if self.p["supervised"] == "sigmoid" else None

    def weights(self) -> dict[str, float]:
        return {TERM[self.p["supervised"]]: 1.0, "klot": self.p["w_klot"]}

    def embeddings(self) -> frozenset[str]:
        klot_keys = {"a_u", "b_u", "feat_a_u", "feat_b_u"} if self.p["w_klot"] else set()
        return frozenset({"a_p", "b_p", *klot_keys})

    def terms(self, batch: BatchEmbeddings) -> dict[str, Tensor]:
        if batch.n_paired == 0:  # no pairs, no teacher (r = 0: the engine reports the untrained model)
            return {}
        if self.p["supervised"] == "sigmoid":
            if batch.logit_bias is None:
                raise RuntimeError(
                    "sotalign: supervised=sigmoid needs the model's logit bias (Method.logit_bias)"
                )
            sup = sigmoid_loss(
                batch.a_p, batch.b_p, batch.logit_scale, batch.logit_bias, positives=batch.same_b_p
            )
        else:
            sup = clip_term(batch, False)
        out = {TERM[self.p["supervised"]]: sup}
        if self.p["w_klot"] and len(batch.a_u) and len(batch.b_u):
            if self.teacher is None:
                raise RuntimeError("sotalign: fit the teacher (Method.fit) before computing its terms")
            teacher = self.teacher.embed_a(batch.feat_a_u) @ self.teacher.embed_b(batch.feat_b_u).T
            student = batch.a_u @ batch.b_u.T
            p = self.p
            out["klot"] = klot(student, teacher, p["eps_student"], p["eps_teacher"], p["sinkhorn_iters"])
        return out
