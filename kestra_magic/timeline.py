"""A Gantt picture of an execution's task runs: PNG via matplotlib when installed, else inline SVG.

Either way the picture is self-contained output (no JavaScript, nothing loaded by the browser).
"""
from __future__ import annotations

import io
from datetime import datetime, timezone
from typing import Any

from kestra_magic.render import STATE_COLORS, RunView, esc, fmt_duration


def _bars(view: RunView) -> list[tuple[str, float, float, str]]:
    """(label, start offset s, duration s, state) per task run that has started."""
    if view.start is None:
        return []
    now = datetime.now(timezone.utc)
    out = []
    for r in view.task_runs:
        if r.start is None:
            continue
        dur = r.duration(now) or 0.0
        label = r.task_id + (f" [{r.value}]" if r.value else "")
        out.append((label, (r.start - view.start).total_seconds(), dur, r.state))
    return out


class Timeline:
    """Displayable Gantt chart; ``.figure`` is the matplotlib Figure (None with the SVG engine)."""

    def __init__(self, execution: Any, *, engine: str = "auto"):
        if engine not in ("auto", "matplotlib", "svg"):
            raise ValueError(f"engine must be 'auto', 'matplotlib' or 'svg', not {engine!r}")
        self.view = RunView.of(execution)
        self.bars = _bars(self.view)
        self.figure = None
        if engine in ("auto", "matplotlib"):
            try:
                self.figure = self._matplotlib()
            except ImportError:
                if engine == "matplotlib":
                    raise ImportError("matplotlib is not installed: pip install 'kestra-magic[notebook]'"
                                      " or use engine='svg'") from None

    def _matplotlib(self):
        from matplotlib.figure import Figure  # no pyplot: no global state, no double display
        fig = Figure(figsize=(8, 0.4 * max(2, len(self.bars)) + 0.8))
        ax = fig.add_subplot()
        for i, (label, start, dur, state) in enumerate(self.bars):
            ax.barh(i, max(dur, 0.001), left=start, color=STATE_COLORS.get(state, "#918BA9"))
        ax.set_yticks(range(len(self.bars)), [b[0] for b in self.bars])
        ax.invert_yaxis()
        ax.set_xlabel("seconds since start")
        ax.set_title(f"{self.view.namespace}.{self.view.flow_id} {self.view.id} {self.view.state}")
        fig.tight_layout()
        return fig

    def _repr_png_(self) -> bytes | None:
        if self.figure is None:
            return None
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        buf = io.BytesIO()
        FigureCanvasAgg(self.figure).print_png(buf)
        return buf.getvalue()

    def _repr_svg_(self) -> str | None:
        return None if self.figure is not None else self.svg()

    def svg(self) -> str:
        """The chart as a standalone SVG document (no external resources)."""
        row, label_w, width = 22, 180, 640
        total = max([s + d for _, s, d, _ in self.bars] or [1.0]) or 1.0
        scale = (width - label_w - 10) / total
        h = row * (len(self.bars) + 1) + 10
        parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{h}" '
                 f'font-family="sans-serif" font-size="12">',
                 f'<text x="4" y="14">{esc(self.view.flow_id)} {esc(self.view.id)} '
                 f'{esc(self.view.state)} ({esc(fmt_duration(total))})</text>']
        for i, (label, start, dur, state) in enumerate(self.bars):
            y = row * (i + 1)
            parts.append(f'<text x="4" y="{y + 14}">{esc(label[:28])}</text>')
            parts.append(f'<rect class="km-bar" data-state="{esc(state)}" x="{label_w + start * scale:.1f}" '
                         f'y="{y + 3}" width="{max(dur * scale, 1.5):.1f}" height="{row - 6}" '
                         f'fill="{STATE_COLORS.get(state, "#918BA9")}"><title>{esc(label)}: '
                         f'{esc(state)} {esc(fmt_duration(dur))}</title></rect>')
        parts.append("</svg>")
        return "".join(parts)

    def __repr__(self) -> str:
        lines = [f"Timeline of {self.view.id} ({self.view.state})"]
        lines += [f"  {label:30} +{fmt_duration(start):>10} {fmt_duration(dur):>10} {state}"
                  for label, start, dur, state in self.bars]
        return "\n".join(lines)
