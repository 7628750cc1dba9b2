import { createHash } from 'node:crypto';

/**
 * A self-contained reference page: it fetches /openapi.json and lists every operation with its parameters,
 * responses and required scope. No CDN and no package assets, so it works on an air-gapped network; the
 * Content-Security-Policy allows exactly this inline script and nothing else.
 */
const SCRIPT = `
const esc = (s) => String(s ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]);
const ref = (s) => (s && s.$ref ? s.$ref.split('/').pop() : s && s.type ? [].concat(s.type).join(' | ') : 'object');
fetch('openapi.json').then((r) => r.json()).then((doc) => {
  document.getElementById('title').textContent = doc.info.title + ' ' + doc.info.version;
  document.getElementById('intro').textContent = doc.info.description;
  const out = [];
  for (const [path, item] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(item)) {
      const params = (op.parameters || []).map((p) => '<li><code>' + esc(p.name) + '</code> (' + esc(p.in) + (p.required ? ', required' : '') + ') ' + esc(p.description) + '</li>').join('');
      const responses = Object.entries(op.responses).map(([status, r]) => {
        const types = Object.entries(r.content || {}).map(([type, c]) => esc(type) + ' ' + esc(ref(c.schema))).join(', ');
        return '<li><b>' + esc(status) + '</b> ' + esc(r.description) + (types ? ' <small>' + types + '</small>' : '') + '</li>';
      }).join('');
      const scope = op['x-required-scope'] ? 'API key with scope <code>' + esc(op['x-required-scope']) + '</code>' : 'open';
      out.push('<section><h2><span class="m ' + esc(method) + '">' + esc(method.toUpperCase()) + '</span> <code>' + esc(path) + '</code></h2><p>' + esc(op.summary) + ' <em>(' + scope + ')</em></p>' + (op.description ? '<p>' + esc(op.description) + '</p>' : '') + (params ? '<h3>Parameters</h3><ul>' + params + '</ul>' : '') + '<h3>Responses</h3><ul>' + responses + '</ul></section>');
    }
  }
  out.push('<section><h2>Schemas</h2>' + Object.entries(doc.components.schemas).map(([name, s]) => '<details><summary>' + esc(name) + '</summary><pre>' + esc(JSON.stringify(s, null, 2)) + '</pre></details>').join('') + '</section>');
  document.getElementById('ops').innerHTML = out.join('');
}).catch((e) => { document.getElementById('ops').textContent = 'Could not load openapi.json: ' + e; });
`;

const STYLE = `body{font:15px/1.5 system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#222}
section{border-top:1px solid #ddd;padding:.5rem 0}h2{font-size:1.1rem;margin:.5rem 0}h3{font-size:.95rem;margin:.5rem 0 0}
.m{display:inline-block;min-width:3.5rem;text-align:center;border-radius:4px;color:#fff;font-size:.8rem;padding:.1rem .3rem}
.get{background:#2b7bb9}.post{background:#3a9a4b}code{background:#f4f4f4;padding:0 .2rem}pre{background:#f7f7f7;padding:.5rem;overflow:auto}`;

export const DOCS_HTML = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>precis API</title><style>${STYLE}</style></head>
<body><h1 id="title">precis API</h1><p id="intro"></p>
<p>Machine-readable: <a href="openapi.json">openapi.json</a>. Authenticate with <code>Authorization: Bearer &lt;key&gt;</code>.</p>
<div id="ops">Loading…</div><script>${SCRIPT}</script></body></html>`;

export const DOCS_CSP = [
  "default-src 'none'",
  `script-src 'sha256-${createHash('sha256').update(SCRIPT).digest('base64')}'`,
  `style-src 'sha256-${createHash('sha256').update(STYLE).digest('base64')}'`,
  "connect-src 'self'",
  "base-uri 'none'",
  "frame-ancestors 'none'",
].join('; ');
