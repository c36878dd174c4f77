"""Every registered method side by side: theory risks against gamma (one line per method and
form, in the method's own colour, style and label)."""
from __future__ import annotations

from typing import Iterable

import numpy as np

from .. import methods, theory
from ._common import _default_gamma, _figure, _gamma_line, _params_text, _pi_label


def method_risks(*, theta: float = np.pi / 4, sigma: float = 0.2, depth: int = 2,
                 gamma=None, names: Iterable[str] | None = None, ylim: float = 2.5):
    """Asymptotic risk of each method in ``names`` (default: every registered method, in
    order) against gamma at one angle, population pretraining; a method with several forms
    draws its other forms thinner. Labels, colours and line styles come from the methods'
    declarations (:class:`symtransfer.methods.Method`)."""
    G = _default_gamma(gamma, 0.02, 2.5, 400)
    chosen = [methods.get(n) for n in (methods.names() if names is None else names)]
    fig = _figure((7.4, 5.0))
    ax = fig.subplots()
    for m in chosen:
        for k, form in enumerate(m.forms):
            kw = dict(gamma=G, sigma=sigma, depth=depth, form=form)
            if m.uses_theta:
                kw["theta"] = theta
            R = np.asarray(theory.risk(m.name, **kw), dtype=float)
            label = m.label if len(m.forms) == 1 else f"{m.label} ({form} form)"
            ax.plot(G, np.where(np.isfinite(R), R, np.nan), color=m.color,
                    ls=m.linestyle if k == 0 else ":", lw=2 if k == 0 else 1.3, label=label)
    _gamma_line(ax, label=False)
    ax.set_ylim(0, ylim)
    ax.set_xlim(G.min(), G.max())
    ax.set_xlabel("\u03b3 = n/d   (target samples per dimension)")
    ax.set_ylabel("R = |\u03b2\u0302 \u2212 \u03b2_t|\u00b2   (theory)")
    ax.set_title(f"Risk of every method at \u03b8 = {_pi_label(theta)}: "
                 + _params_text(sigma=sigma, depth=depth), fontsize=10)
    ax.legend(fontsize=8, loc="best", framealpha=0.9)
    return fig
