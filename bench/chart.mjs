// Renders the benchmark report as an SVG line chart: elements/s (log scale) against n (log scale),
// one line per method. Wrong results are drawn as hollow points.

const COLORS = {
  'bce-wasm': ['#d62728', '#ff7f0e', '#9467bd', '#e377c2', '#8c564b', '#bcbd22'],
  naive: ['#7f7f7f', '#b0b0b0'],
  other: ['#1f77b4', '#17becf', '#2ca02c', '#98df8a', '#aec7e8', '#000000'],
};

function colorFor(name, used) {
  const group = name.startsWith('bce-wasm') ? 'bce-wasm' : name.startsWith('naive') ? 'naive' : 'other';
  const k = (used[group] = (used[group] ?? -1) + 1);
  return COLORS[group][k % COLORS[group].length];
}

const esc = (s) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;');

export function renderChart({ machine, sizes, methods }) {
  const W = 1060;
  const H = 560;
  const plot = { x: 80, y: 50, w: 560, h: 440 };
  const rates = Object.values(methods).flatMap((rs) => rs.map((r) => r.n / r.ms / 1000 * 1e6));
  const lo = Math.floor(Math.log10(Math.min(...rates)));
  const hi = Math.ceil(Math.log10(Math.max(...rates)));
  const lx0 = Math.log2(sizes[0]);
  const lx1 = Math.log2(sizes[sizes.length - 1]);
  const px = (n) => plot.x + ((Math.log2(n) - lx0) / (lx1 - lx0)) * plot.w;
  const py = (v) => plot.y + plot.h - ((Math.log10(v) - lo) / (hi - lo)) * plot.h;
  const out = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`);
  out.push(`<rect width="${W}" height="${H}" fill="white"/>`);
  out.push(
    `<text x="${plot.x}" y="22" font-size="15" font-weight="bold">BCE fused forward+backward: elements per second (higher is better)</text>`,
  );
  out.push(
    `<text x="${plot.x}" y="40" fill="#555">${esc(`${machine.cpu}, ${machine.cores} cores, Node ${machine.node}, ${machine.date.slice(0, 10)}, single process per method`)}</text>`,
  );
  for (let e = lo; e <= hi; e++) {
    const y = py(10 ** e);
    out.push(`<line x1="${plot.x}" x2="${plot.x + plot.w}" y1="${y}" y2="${y}" stroke="#ddd"/>`);
    const label = e >= 9 ? `${10 ** (e - 9)}G` : e >= 6 ? `${10 ** (e - 6)}M` : e >= 3 ? `${10 ** (e - 3)}K` : `${10 ** e}`;
    out.push(`<text x="${plot.x - 8}" y="${y + 4}" text-anchor="end">${label}</text>`);
  }
  for (const n of sizes) {
    const x = px(n);
    out.push(`<line x1="${x}" x2="${x}" y1="${plot.y}" y2="${plot.y + plot.h}" stroke="#eee"/>`);
    const label = n >= 1 << 20 ? `${n / (1 << 20)}M` : n >= 1024 ? `${n / 1024}K` : String(n);
    out.push(`<text x="${x}" y="${plot.y + plot.h + 18}" text-anchor="middle">${label}</text>`);
  }
  out.push(`<text x="${plot.x + plot.w / 2}" y="${plot.y + plot.h + 38}" text-anchor="middle">elements per call (n)</text>`);
  out.push(`<rect x="${plot.x}" y="${plot.y}" width="${plot.w}" height="${plot.h}" fill="none" stroke="#888"/>`);
  const used = {};
  let ly = plot.y + 6;
  for (const [name, results] of Object.entries(methods)) {
    const color = colorFor(name, used);
    const dash = name.includes('floor') ? ' stroke-dasharray="5,4"' : name.includes('arrays') || name.includes('scalar') ? ' stroke-dasharray="2,3"' : '';
    const pts = results.map((r) => `${px(r.n).toFixed(1)},${py((r.n / r.ms / 1000) * 1e6).toFixed(1)}`);
    out.push(`<polyline points="${pts.join(' ')}" fill="none" stroke="${color}" stroke-width="2"${dash}/>`);
    for (const r of results) {
      const fill = r.ok ? color : 'white';
      out.push(`<circle cx="${px(r.n).toFixed(1)}" cy="${py((r.n / r.ms / 1000) * 1e6).toFixed(1)}" r="3.5" fill="${fill}" stroke="${color}"/>`);
    }
    out.push(`<line x1="${plot.x + plot.w + 20}" x2="${plot.x + plot.w + 44}" y1="${ly}" y2="${ly}" stroke="${color}" stroke-width="2"${dash}/>`);
    out.push(`<text x="${plot.x + plot.w + 50}" y="${ly + 4}">${esc(name)}</text>`);
    ly += 20;
  }
  out.push('</svg>');
  return out.join('\n') + '\n';
}
