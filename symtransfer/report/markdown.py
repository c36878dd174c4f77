"""Writing ``report.md``: tables, figures with captions, formulas, derivation status.
"""
from __future__ import annotations

import math
import sys
from dataclasses import asdict
from datetime import datetime, timezone
from pathlib import Path

from .checks import Check, ScalingCheck, _chance, _fmt_params
from .config import Config, _Log


def _md_table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(str(c).replace("|", "\\|") for c in row) + " |"
              for row in rows]
    return "\n".join(lines)


def _num(x: float | None, digits: int = 4) -> str:
    if x is None:
        return ""
    if not math.isfinite(x):
        return str(x)
    return f"{x:.{digits}f}"


def _check_rows(checks: list[Check]) -> list[list[str]]:
    rows = []
    for c in checks:
        allowance = c.why if c.allowance == 0 else f"{c.allowance:.4f} = {c.why}"
        rows.append([c.label, _fmt_params(c.params), c.reference, _num(c.theory),
                     f"{_num(c.mean)} \u00b1 {_num(c.sem)}", f"{c.z:+.2f}", allowance,
                     _num(c.bound),
                     "PASS" if c.ok else ("**FAIL** (not converged)" if not c.converged
                                          else "**FAIL**")])
    return rows


def _text_table(checks: list[Check]) -> str:
    lines = [f"{'case':<26} {'parameters':<52} {'theory':>8} {'MC':>8} {'sem':>7} {'z':>6} "
             f"{'allow':>7}  result"]
    for c in checks:
        params = _fmt_params(c.params)
        lines.append(f"{c.label:<26} {params:<52} {c.theory:8.4f} {c.mean:8.4f} {c.sem:7.4f} "
                     f"{c.z:+6.2f} {c.allowance:7.4f}  {'PASS' if c.ok else 'FAIL'}")
    return "\n".join(lines)


def _write_markdown(path: Path, *, cfg: Config, made: list, table: list[Check],
                    grid_checks: dict[str, list[Check]], derivation: tuple, log: _Log,
                    timings: list, theory_text: str, formulas: list,
                    scaling: ScalingCheck | None = None) -> None:
    from .. import __version__

    results, derive_seconds, derive_cached = derivation
    failed = [r for r in results if not r[1]]
    passed_table = sum(c.ok for c in table)
    grid_all = [c for checks in grid_checks.values() for c in checks]
    grid_ok = sum(c.ok for c in grid_all)
    now = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    md = [f"# symtransfer report ({cfg.name})", "",
          f"Generated {now} by symtransfer {__version__} (`symtransfer report"
          f"{' --quick' if cfg.name == 'quick' else ''}`), Python {sys.version.split()[0]}. "
          "Theory: Tahir, Ganguli, Rotskoff, *Features are fate* (ICML 2025), re-derived; see "
          "`docs/theory.md` in the repository. Monte-Carlo: gradient flow of deep linear "
          "networks from small initialization (`symtransfer.simulate`), seed 0.", "",
          "## Summary", "",
          f"- **Theory vs Monte-Carlo, checked cases:** {passed_table} of {len(table)} PASS "
          f"(|mean \u2212 theory| \u2264 4 sem + allowance; d = {cfg.table_d}, "
          f"{cfg.table_instances} instances).",
          *([f"- **Fine-tuning by finite-size scaling** (d = "
              f"{', '.join(map(str, scaling.ds))}): intercept {_num(scaling.intercept)} \u00b1 "
              f"{_num(scaling.intercept_se)}; exact form {_num(scaling.exact)} (z = "
              f"{scaling.z_exact:+.1f}), paper's {_num(scaling.paper)} (z = "
              f"{scaling.z_paper:+.1f})."] if scaling is not None else []),
          f"- **Theory vs Monte-Carlo, every sweep point:** {grid_ok} of {len(grid_all)} "
          f"within 4 sem + allowance (about {sum(_chance(c.instances, 1) for c in grid_all):.1f}"
          " expected outside by chance with so few instances per point, Student t).",
          f"- **Derivations:** {len(results) - len(failed)} of {len(results)} checks pass "
          f"({', '.join(f'{n} {h}' for h, n in _count_how(results))})"
          + (f"; **{len(failed)} FAILED**" if failed else "") + ".",
          f"- **Figures:** {len(made)} ({' and '.join(f.upper() for f in cfg.formats)} in "
          "`figures/`).",
          f"- **Wall time:** {log.elapsed:.1f} s"
          + (f" (Monte-Carlo data reused from an earlier run: {', '.join(log.reused)})"
             if log.reused else "") + ".", ""]
    md += ["## Figures", ""]
    for i, (name, title, caption) in enumerate(made, 1):
        md += [f"### {i}. {title}", "", f"![{title}](figures/{name}.png)", "",
               f"*Figure {i}.* {caption}"
               + (f" ([PDF](figures/{name}.pdf))" if "pdf" in cfg.formats else ""), ""]
    md += ["## Theory vs Monte-Carlo", "",
           "Each case of `symtransfer.tables.MC_CASES` is simulated at d = "
           f"{cfg.table_d} with {cfg.table_instances} instances and compared with the theory: "
           "the exact finite-d expectation where one is known (allowance 0), otherwise the "
           "asymptotic formula with the stated finite-size allowance (as in "
           "`tests/test_mc.py`). PASS: |mean \u2212 theory| \u2264 4 sem + allowance; "
           "z = (mean \u2212 theory)/sem.", "",
           _md_table(["case", "parameters", "theory is", "theory", "MC mean \u00b1 sem", "z",
                      "allowance", "4 sem + allowance", "result"], _check_rows(table)), ""]
    ft = [c for c in table if c.paper is not None]  # methods with a paper form and endpoints
    if ft:
        rows = []
        for c in ft:
            same = abs(c.theory - c.paper) < 1e-9
            if same:
                verdict = "forms coincide (\u03c3 = 0, |\u03b2\u0302_s| = 1)"
            elif c.dist_exact * 10 < c.dist_paper:
                verdict = "every run ends at the exact form's endpoint; paper's rejected"
            else:
                verdict = "not separated"
            pm, ps = c.paired
            rows.append([c.label, _fmt_params(c.params), _num(c.theory), _num(c.paper),
                         f"{_num(c.mean)} \u00b1 {_num(c.sem)}",
                         f"{pm:+.4f} \u00b1 {ps:.4f} (z = {pm / ps:+.1f})" if ps > 0 else
                         f"{pm:+.4f}",
                         f"{c.dist_exact:.1e}", f"{c.dist_paper:.1e}", verdict])
        md += ["**Fine-tuning: which form do the runs follow?** The paper's form keeps the "
               "null-space part of the pretrained vector unscaled; the exact form rescales it "
               "by c (conservation laws). Means alone separate them poorly at this size; per "
               "run they separate clearly. *Paired gap*: mean \u00b1 sem of R_run \u2212 "
               "R(paper endpoint on the same data) (the exact theory predicts R_exact \u2212 "
               "R_paper). *Endpoint distances*: |\u03b2\u0302_run \u2212 \u03b2\u0302_form| "
               "for each form's predicted endpoint "
               "(`symtransfer.mc.mechanism.endpoint_distances`), max over runs for the exact "
               "form, min over runs for the paper's.", "",
               _md_table(["case", "parameters", "exact", "paper", "MC mean \u00b1 sem",
                          "paired gap R_run \u2212 R_paper-endpoint", "max dist. exact",
                          "min dist. paper", "verdict"], rows), ""]
    if scaling is not None:
        md += _scaling_markdown(scaling)
    md += ["### Every sweep point", "",
           "The figures' Monte-Carlo points against the theory with the same rule. With "
           "only a few instances per point the sem is itself noisy (Student t with "
           "instances \u2212 1 degrees of freedom), so a few points outside 4 sem are "
           "expected by chance; the expected number is given.", ""]
    rows = []
    for name, checks in grid_checks.items():
        ok = sum(c.ok for c in checks)
        refs = sorted({c.reference for c in checks})
        worst = max(checks, key=lambda c: abs(c.mean - c.theory) / c.bound
                    if c.converged and c.bound > 0 else math.inf)
        rows.append([name, f"{ok} / {len(checks)}",
                     f"{sum(_chance(c.instances, 1) for c in checks):.2f}", "; ".join(refs),
                     f"{_fmt_params(worst.params)}: z = {worst.z:+.1f}"])
    md += [_md_table(["sweep", "within 4 sem + allowance", "expected outside by chance",
                      "theory is", "worst point"], rows), ""]
    bad = [c for checks in grid_checks.values() for c in checks if not c.ok]
    if bad:
        md += ["Points outside the bound:", "",
               _md_table(["sweep", "parameters", "theory", "MC mean \u00b1 sem", "z",
                          "allowance", "result"],
                         [[c.label, _fmt_params(c.params), _num(c.theory),
                           f"{_num(c.mean)} \u00b1 {_num(c.sem)}", f"{c.z:+.2f}",
                           f"{c.allowance:.4f}", "not converged" if not c.converged else "FAIL"]
                          for c in bad]), ""]
    md += ["## Formulas", "",
           "Every expression symtransfer evaluates, printed from the shipped sympy expression "
           "(`sympy.latex(symtransfer.expr(...))`), with the status of its re-derivation from "
           "primitives (`derivations/`, `symtransfer check`). Symbols: \u03b3 = n/d, "
           "\u03b3_s = n_s/d, \u03b8 the teacher angle, \u03c3 and \u03c3_s the target and "
           "source noise, \u03bb the ridge penalty, \u03bc the pretraining penalty, L the depth, "
           "d the dimension. "
           "$\\operatorname{root}_{+}[p(x)]$ is the unique positive root of the polynomial p "
           "(in radicals for L = 2, 3).", ""]
    for title, latex, status in formulas:
        md += [f"**{title}.** {status}", "", "$$", latex, "$$", ""]
    md += ["## Derivation status", "",
           f"`derivations.run_all()`: {len(results)} checks, {len(failed)} failed "
           f"({derive_seconds:.1f} s of CPU"
           f"{', cached: derivation sources unchanged' if derive_cached else ''}).", ""]
    rows = []
    for module, items in _by_module(results):
        hows = _count_how(items)
        rows.append([module, str(len(items)), str(sum(r[1] for r in items)),
                     ", ".join(f"{n} {h}" for h, n in hows)])
    md += [_md_table(["module", "checks", "passed", "how"], rows), ""]
    if failed:
        md += ["**Failures:**", ""] + [f"- `{r[0]}`: {r[3]}" for r in failed] + [""]
    else:
        md += ["No failures.", ""]
    md += ["<details><summary>All checks</summary>", "",
           _md_table(["check", "result", "how", "detail"],
                     [[r[0], "PASS" if r[1] else "**FAIL**", r[2], r[3][:120]]
                      for r in results]),
           "", "</details>", ""]
    md += ["## Theory tables", "", "```", theory_text.rstrip(), "```", ""]
    md += ["## Run", "",
           f"Configuration `{cfg.name}`: " + ", ".join(
               f"{k} = {_short(v, 'theta' in k)}" for k, v in asdict(cfg).items()
               if k != "name") + ".", "",
           "Monte-Carlo data: `data/*.npz` (sweeps: `symtransfer.sweep.Sweep.load`); a rerun "
           "into the same folder reuses them.", "",
           _md_table(["stage", "seconds", "note"],
                     [[n, f"{s:.1f}", note] for n, s, note in timings]
                     + [["**total**", f"**{log.elapsed:.1f}**", ""]]), ""]
    path.write_text("\n".join(md))


def _short(value, angle: bool = False) -> str:
    if isinstance(value, tuple):
        return "(" + ", ".join(_short(v, angle) for v in value) + ")"
    if angle:
        from ..plots import _pi_label

        return _pi_label(value)
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def _by_module(results):
    groups: dict[str, list] = {}
    for r in results:
        groups.setdefault(r[0].split(":")[0], []).append(r)
    return list(groups.items())


def _count_how(results):
    counts: dict[str, int] = {}
    for r in results:
        counts[r[2]] = counts.get(r[2], 0) + 1
    return sorted(counts.items(), key=lambda kv: -kv[1])


def _scaling_markdown(c: ScalingCheck) -> list[str]:
    rows = [[str(d), f"{_num(m)} \u00b1 {_num(s)}"] for d, m, s in zip(c.ds, c.means, c.sems)]
    verdict = ("exact form accepted, paper's rejected" if c.accepts_exact and c.rejects_paper
               else "exact form accepted, paper's not rejected" if c.accepts_exact
               else "exact form NOT accepted" if c.converged else "not converged")
    if c.variance_ratios:
        rows = [r + [f"{v:.0f}\u00d7"] for r, v in zip(rows, c.variance_ratios)]
    how = ("the control-variate estimate of the mean (`symtransfer.mc.control`: the design's "
           "null-space projections of both teachers and its noise pull-back, whose exact "
           "finite-d means are primitives; no transfer formula) "
           if c.variance_ratios else "the Monte-Carlo mean ")
    return ["**Fine-tuning by finite-size scaling.** " + how[0].upper() + how[1:] + "at each d "
            f"({c.instances} instances; {_fmt_params(c.params)}) is fitted by a + b/d "
            "(weighted least squares, weights 1/sem\u00b2); the intercept a is the "
            "d \u2192 \u221e limit and is compared with both forms from the means alone. "
            "Accept: |z| \u2264 4; reject: |z| \u2265 5 (z in standard errors of a).", "",
            _md_table(["d", "MC mean \u00b1 sem"]
                      + (["variance reduction"] if c.variance_ratios else []), rows), "",
            _md_table(["intercept a \u00b1 se", "slope b", "\u03c7\u00b2 "
                       f"({len(c.ds) - 2} dof)", "exact form", "z (exact)", "paper form",
                       "z (paper)", "verdict"],
                      [[f"{_num(c.intercept)} \u00b1 {_num(c.intercept_se)}",
                        f"{c.slope:+.2f}", f"{c.chi2:.2f}", _num(c.exact),
                        f"{c.z_exact:+.1f}", _num(c.paper), f"{c.z_paper:+.1f}", verdict]]),
            ""]
