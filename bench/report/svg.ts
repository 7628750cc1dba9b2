/**
 * Hand-written SVG charts for the report: grouped bars and lines, with optional horizontal reference lines
 * (targets). No chart library: a few rectangles, polylines and labels are all the report needs, and the files
 * render anywhere Markdown renders images.
 */

export interface Series {
  name: string;
  values: (number | null)[];
}

export interface ReferenceLine {
  value: number;
  label: string;
}

const WIDTH = 720;
const HEIGHT = 360;
const MARGIN = { top: 48, right: 24, bottom: 96, left: 72 };
const PALETTE = ['#2563eb', '#f59e0b', '#10b981', '#ef4444', '#8b5cf6', '#64748b'];

function escapeXml(text: string): string {
  return text.replace(/[<>&"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** A "nice" upper bound for the axis (1, 2 or 5 times a power of ten), so ticks are round numbers. */
function niceMax(max: number): number {
  if (!(max > 0)) return 1;
  const power = 10 ** Math.floor(Math.log10(max));
  const step = [1, 2, 5, 10].find((m) => m * power >= max) ?? 10;
  return step * power;
}

function formatTick(value: number): string {
  if (value >= 10_000) return `${Math.round(value / 1000)}k`;
  if (value >= 100) return String(Math.round(value));
  return String(Math.round(value * 100) / 100);
}

function frame(
  title: string,
  yLabel: string,
  body: string[],
  yMax: number,
  references: ReferenceLine[],
): string {
  const plotHeight = HEIGHT - MARGIN.top - MARGIN.bottom;
  const plotWidth = WIDTH - MARGIN.left - MARGIN.right;
  const y = (v: number) => MARGIN.top + plotHeight - (v / yMax) * plotHeight;
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" role="img" aria-label="${escapeXml(title)}" width="${WIDTH}" height="${HEIGHT}" viewBox="0 0 ${WIDTH} ${HEIGHT}" font-family="sans-serif" font-size="12">`,
    `<title>${escapeXml(title)}</title>`,
    `<rect width="${WIDTH}" height="${HEIGHT}" fill="#ffffff"/>`,
    `<text x="${WIDTH / 2}" y="24" text-anchor="middle" font-size="15" font-weight="bold">${escapeXml(title)}</text>`,
    `<text transform="translate(16 ${MARGIN.top + plotHeight / 2}) rotate(-90)" text-anchor="middle">${escapeXml(yLabel)}</text>`,
  ];
  for (let i = 0; i <= 5; i++) {
    const value = (yMax * i) / 5;
    parts.push(
      `<line x1="${MARGIN.left}" x2="${MARGIN.left + plotWidth}" y1="${y(value)}" y2="${y(value)}" stroke="#e5e7eb"/>`,
      `<text x="${MARGIN.left - 6}" y="${y(value) + 4}" text-anchor="end" fill="#374151">${formatTick(value)}</text>`,
    );
  }
  parts.push(...body);
  for (const ref of references) {
    if (ref.value > yMax) continue;
    parts.push(
      `<line x1="${MARGIN.left}" x2="${MARGIN.left + plotWidth}" y1="${y(ref.value)}" y2="${y(ref.value)}" stroke="#dc2626" stroke-dasharray="6 4"/>`,
      `<text x="${MARGIN.left + plotWidth}" y="${y(ref.value) - 4}" text-anchor="end" fill="#dc2626">${escapeXml(ref.label)}</text>`,
    );
  }
  parts.push(
    `<line x1="${MARGIN.left}" x2="${MARGIN.left}" y1="${MARGIN.top}" y2="${MARGIN.top + plotHeight}" stroke="#111827"/>`,
    `<line x1="${MARGIN.left}" x2="${MARGIN.left + plotWidth}" y1="${MARGIN.top + plotHeight}" y2="${MARGIN.top + plotHeight}" stroke="#111827"/>`,
    '</svg>',
  );
  return `${parts.join('\n')}\n`;
}

function legend(series: { name: string }[]): string[] {
  return series.map((s, i) => {
    const x = MARGIN.left + i * 170;
    const yPos = HEIGHT - 16;
    return `<rect x="${x}" y="${yPos - 10}" width="12" height="12" fill="${PALETTE[i % PALETTE.length]}"/><text x="${x + 18}" y="${yPos}">${escapeXml(s.name)}</text>`;
  });
}

/** Grouped bars: one group per category, one bar per series; null values leave a gap. */
export function barChart(options: {
  title: string;
  yLabel: string;
  categories: string[];
  series: Series[];
  references?: ReferenceLine[];
}): string {
  const references = options.references ?? [];
  const all = options.series.flatMap((s) => s.values.filter((v): v is number => v !== null));
  const yMax = niceMax(Math.max(0, ...all, ...references.map((r) => r.value)));
  const plotHeight = HEIGHT - MARGIN.top - MARGIN.bottom;
  const plotWidth = WIDTH - MARGIN.left - MARGIN.right;
  const group = plotWidth / Math.max(1, options.categories.length);
  const bar = (group * 0.8) / Math.max(1, options.series.length);
  const body: string[] = [];
  options.categories.forEach((category, c) => {
    const x0 = MARGIN.left + c * group + group * 0.1;
    options.series.forEach((s, i) => {
      const value = s.values[c];
      if (value === null || value === undefined) return;
      const h = (Math.max(0, value) / yMax) * plotHeight;
      const x = x0 + i * bar;
      body.push(
        `<rect x="${x.toFixed(1)}" y="${(MARGIN.top + plotHeight - h).toFixed(1)}" width="${(bar * 0.92).toFixed(1)}" height="${h.toFixed(1)}" fill="${PALETTE[i % PALETTE.length]}"><title>${escapeXml(`${s.name} ${category}: ${value}`)}</title></rect>`,
        `<text x="${(x + bar * 0.46).toFixed(1)}" y="${(MARGIN.top + plotHeight - h - 3).toFixed(1)}" text-anchor="middle" font-size="10">${formatTick(value)}</text>`,
      );
    });
    // Many categories: labels slanted so long names (process names) do not run into each other.
    const lx = (x0 + group * 0.4).toFixed(1);
    const ly = MARGIN.top + plotHeight + 16;
    body.push(
      options.categories.length > 5
        ? `<text x="${lx}" y="${ly}" text-anchor="end" font-size="10" transform="rotate(-25 ${lx} ${ly})">${escapeXml(category)}</text>`
        : `<text x="${lx}" y="${ly}" text-anchor="middle">${escapeXml(category)}</text>`,
    );
  });
  if (options.series.length > 1) body.push(...legend(options.series));
  return frame(options.title, options.yLabel, body, yMax, references);
}

/** Lines over x = 0, 1, 2… (e.g. seconds), one per series. */
export function lineChart(options: {
  title: string;
  yLabel: string;
  xLabel: string;
  series: Series[];
  references?: ReferenceLine[];
}): string {
  const references = options.references ?? [];
  const all = options.series.flatMap((s) => s.values.filter((v): v is number => v !== null));
  const yMax = niceMax(Math.max(0, ...all, ...references.map((r) => r.value)));
  const points = Math.max(2, ...options.series.map((s) => s.values.length));
  const plotHeight = HEIGHT - MARGIN.top - MARGIN.bottom;
  const plotWidth = WIDTH - MARGIN.left - MARGIN.right;
  const x = (i: number) => MARGIN.left + (i / (points - 1)) * plotWidth;
  const y = (v: number) => MARGIN.top + plotHeight - (v / yMax) * plotHeight;
  const body: string[] = [];
  options.series.forEach((s, i) => {
    const coords = s.values
      .map((v, index) => (v === null ? null : `${x(index).toFixed(1)},${y(v).toFixed(1)}`))
      .filter((c): c is string => c !== null);
    body.push(
      `<polyline fill="none" stroke="${PALETTE[i % PALETTE.length]}" stroke-width="2" points="${coords.join(' ')}"/>`,
    );
  });
  for (let i = 0; i < points; i += Math.max(1, Math.ceil(points / 10))) {
    body.push(
      `<text x="${x(i).toFixed(1)}" y="${MARGIN.top + plotHeight + 16}" text-anchor="middle">${i}</text>`,
    );
  }
  body.push(
    `<text x="${MARGIN.left + plotWidth / 2}" y="${MARGIN.top + plotHeight + 36}" text-anchor="middle">${escapeXml(options.xLabel)}</text>`,
  );
  body.push(...legend(options.series));
  return frame(options.title, options.yLabel, body, yMax, references);
}
