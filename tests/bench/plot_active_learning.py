#!/usr/bin/env python3
"""Draws bench_active_learning's curves as an SVG (no plotting library needed): validation and
test AUC against the number of labels, mean of the seeds (thick) and each seed (thin), for the
random order and the active-learning order.

usage: build/bin/bench_active_learning DATASET.npz | python3 tests/bench/plot_active_learning.py OUT.svg
       python3 tests/bench/plot_active_learning.py OUT.svg BENCH_OUTPUT.txt
"""
import json
import sys


def load(lines):
    for line in lines:
        line = line.strip()
        if line.startswith('{') and '"curves"' in line:
            return json.loads(line)
    sys.exit('no bench_active_learning JSON line in the input')


def panel(curves, column, title, x0, lo, hi, colours):
    """One plot: AUC (column 1 validation, 2 test) against labels, at horizontal offset x0."""
    width, height, left, top = 380, 300, 55, 40
    xs = [p[0] for p in next(iter(curves.values()))[0]]
    xmin, xmax = min(xs), max(xs)
    fx = lambda v: x0 + left + (v - xmin) / (xmax - xmin) * width
    fy = lambda v: top + (hi - v) / (hi - lo) * height
    out = [f"<text x='{x0 + left}' y='24' font-weight='bold'>{title}</text>",
           f"<rect x='{x0 + left}' y='{top}' width='{width}' height='{height}' fill='none' "
           "stroke='#888'/>"]
    steps = 5
    for k in range(steps + 1):
        v = lo + (hi - lo) * k / steps
        out.append(f"<line x1='{x0 + left}' x2='{x0 + left + width}' y1='{fy(v):.1f}' "
                   f"y2='{fy(v):.1f}' stroke='#eee'/>")
        out.append(f"<text x='{x0 + 8}' y='{fy(v) + 4:.1f}'>{v:.3f}</text>")
    for v in xs:
        out.append(f"<text x='{fx(v) - 12:.1f}' y='{top + height + 16}'>{v}</text>")
    out.append(f"<text x='{x0 + left + width / 2 - 40}' y='{top + height + 34}'>labels</text>")
    for (name, seeds), colour in zip(curves.items(), colours):
        for seed in seeds:
            points = ' '.join(f'{fx(p[0]):.1f},{fy(p[column]):.1f}' for p in seed)
            out.append(f"<polyline points='{points}' fill='none' stroke='{colour}' "
                       "stroke-opacity='0.35' stroke-width='1'/>")
        mean = [(seeds[0][i][0], sum(s[i][column] for s in seeds) / len(seeds))
                for i in range(len(seeds[0]))]
        points = ' '.join(f'{fx(x):.1f},{fy(y):.1f}' for x, y in mean)
        out.append(f"<polyline points='{points}' fill='none' stroke='{colour}' stroke-width='3'/>")
        for x, y in mean:
            out.append(f"<circle cx='{fx(x):.1f}' cy='{fy(y):.1f}' r='3.5' fill='{colour}'/>")
    return out


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    lines = open(sys.argv[2]).read().splitlines() if len(sys.argv) > 2 else sys.stdin
    data = load(lines)
    curves = data['curves']
    colours = ['#7f7f7f', '#d62728']
    val = [p[1] for seeds in curves.values() for s in seeds for p in s]
    test = [p[2] for seeds in curves.values() for s in seeds for p in s]
    svg = ["<svg xmlns='http://www.w3.org/2000/svg' width='1000' height='400' "
           "font-family='sans-serif' font-size='12'>",
           "<rect width='1000' height='400' fill='white'/>"]
    svg += panel(curves, 1, 'Validation AUC (the model chosen on it)', 0,
                 round(min(val) - 0.001, 3), round(max(val) + 0.001, 3), colours)
    svg += panel(curves, 2, 'Test AUC (never used for any choice)', 490,
                 round(min(test) - 0.002, 3), round(max(test) + 0.002, 3), colours)
    for i, (name, colour) in enumerate(zip(curves, colours)):
        label = 'random order' if name == 'random' else f'active learning ({name})'
        svg.append(f"<line x1='{70 + 450 * i}' x2='{100 + 450 * i}' y1='390' y2='390' "
                   f"stroke='{colour}' stroke-width='3'/>")
        svg.append(f"<text x='{106 + 450 * i}' y='394'>{label}: mean of {len(curves[name])} "
                   "seeds (thin: each)</text>")
    svg.append('</svg>')
    open(sys.argv[1], 'w').write('\n'.join(svg) + '\n')


if __name__ == '__main__':
    main()
