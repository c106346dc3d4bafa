/**
 * The web console's page: plain HTML, CSS and a script (no framework), served by ./web.ts. Everything the daemon
 * sends is put in the page with textContent, never as markup: a unikernel's console cannot inject anything.
 */

export const PAGE_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Fata daemon</title>
<link rel="stylesheet" href="/console.css">
<script src="/console.js" defer></script>
</head>
<body>
<header><h1>Fata daemon</h1><span id="status">connecting…</span></header>
<p id="error" role="alert"></p>
<table id="unikernels">
<thead><tr><th>name</th><th>state</th><th>uptime</th><th>restarts</th><th>RSS</th><th>CPU</th><th>packets in/out</th><th>block reads/writes</th><th>image</th><th></th></tr></thead>
<tbody></tbody>
</table>
<p id="empty">No unikernels. Create one below.</p>
<section id="console-pane" hidden>
<h2>Console: <span id="console-name"></span></h2>
<pre id="console"></pre>
</section>
<form id="create">
<h2>Create</h2>
<label>name <input name="name" required pattern="[a-z0-9][a-z0-9_.\\-]{0,62}" placeholder="web"></label>
<label>image on this host <input name="image" required placeholder="/srv/website.fata" size="50"></label>
<label>net device <input name="net" placeholder="service=br0" title="DEV=BRIDGE or DEV=BRIDGE@MAC, comma-separated"></label>
<label>block device <input name="block" placeholder="storage=data" title="DEV=VOLUME, comma-separated (fata volume create VOLUME SIZE)"></label>
<label>memory MB <input name="mem" type="number" min="64" placeholder="512"></label>
<label><input name="restart" type="checkbox" checked> restart on failure</label>
<label>boot arguments <input name="args" placeholder="--ipv4=10.0.0.2/24" size="40"></label>
<button type="submit" id="create-button">Create</button>
</form>
</body>
</html>
`;

export const PAGE_CSS = `body { font: 14px system-ui, sans-serif; margin: 1.5em; color: #1d1d1f; }
header { display: flex; gap: 1em; align-items: baseline; }
h1 { font-size: 1.4em; margin: 0; } h2 { font-size: 1.1em; }
#status { color: #666; } #error { color: #b00020; min-height: 1.2em; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: .35em .6em; border-bottom: 1px solid #ddd; white-space: nowrap; }
td.state-running { color: #0a7a2f; } td.state-backoff, td.state-failed { color: #b00020; }
button { margin-right: .3em; } button.armed { background: #b00020; color: white; }
pre#console { background: #111; color: #ddd; padding: .8em; height: 18em; overflow: auto; font-size: 12px; }
form label { display: inline-block; margin: .3em 1em .3em 0; }
`;

export const PAGE_JS = `'use strict';
const $ = (s) => document.querySelector(s);
const hash = new URLSearchParams(location.hash.slice(1)).get('token');
if (hash) { sessionStorage.setItem('fata-token', hash); history.replaceState(null, '', location.pathname); }
const token = sessionStorage.getItem('fata-token') || '';
const armed = new Map();
let source;

async function api(method, path, body) {
  const r = await fetch(path, { method, headers: { authorization: 'Bearer ' + token, 'content-type': 'application/json' }, body: body && JSON.stringify(body) });
  const j = await r.json();
  if (!r.ok) throw new Error(j.code + ': ' + j.message);
  return j;
}
const showError = (e) => { $('#error').textContent = e ? String(e.message || e) : ''; };
const ago = (ms) => ms === undefined ? '-' : ms < 120000 ? Math.floor(ms / 1000) + 's' : Math.floor(ms / 60000) + 'm';
const mib = (b) => typeof b === 'number' ? (b / 1048576).toFixed(1) + 'M' : '-';

function cell(tr, text, cls) { const td = tr.insertCell(); td.textContent = text; if (cls) td.className = cls; return td; }
function button(td, label, action, name) {
  const b = document.createElement('button');
  b.textContent = label; b.dataset.action = action; b.dataset.name = name;
  td.appendChild(b);
  return b;
}

function render(rows) {
  const body = $('#unikernels tbody');
  body.replaceChildren();
  $('#empty').hidden = rows.length > 0;
  for (const r of rows) {
    const tr = body.insertRow();
    tr.dataset.name = r.name;
    cell(tr, r.name); cell(tr, r.state, 'state state-' + r.state); cell(tr, ago(r.uptimeMs)); cell(tr, String(r.restarts));
    cell(tr, mib(r.rssBytes));
    cell(tr, r.cpuMs === undefined ? '-' : r.cpuMs + ' ms');
    cell(tr, r.packetsIn + ' / ' + r.packetsOut, 'packets');
    const blocks = cell(tr, r.blockReads === undefined ? '-' : r.blockReads + ' / ' + r.blockWrites, 'blocks');
    if (r.blocksUnavailable) blocks.title = r.blocksUnavailable;
    cell(tr, r.image.name + ' ' + r.image.sha256.slice(0, 12));
    const td = tr.insertCell();
    button(td, 'Console', 'console', r.name);
    button(td, 'Restart', 'restart', r.name);
    const d = button(td, armed.has(r.name) ? 'Really destroy?' : 'Destroy', 'destroy', r.name);
    if (armed.has(r.name)) d.className = 'armed';
  }
}

async function refresh() {
  try {
    render(await api('GET', '/api/overview'));
    $('#status').textContent = 'live · ' + new Date().toLocaleTimeString();
  } catch (e) { showError(e); }
}

function openConsole(name) {
  if (source) source.close();
  $('#console-pane').hidden = false;
  $('#console-name').textContent = name;
  const pre = $('#console');
  pre.textContent = '';
  source = new EventSource('/api/console/' + encodeURIComponent(name) + '?token=' + encodeURIComponent(token));
  source.addEventListener('line', (m) => {
    const l = JSON.parse(m.data);
    const stick = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 4;
    pre.append(new Date(l.t).toISOString().slice(11, 23) + ' ' + (l.stream === 'out' ? '' : '[' + l.stream + '] ') + l.text + '\\n');
    if (pre.childNodes.length > 2000) pre.firstChild.remove();
    if (stick) pre.scrollTop = pre.scrollHeight;
  });
  source.addEventListener('gone', () => { source.close(); pre.append('— destroyed —\\n'); });
}

$('#unikernels').addEventListener('click', async (ev) => {
  const b = ev.target.closest('button');
  if (!b) return;
  const name = b.dataset.name;
  showError();
  try {
    if (b.dataset.action === 'console') openConsole(name);
    else if (b.dataset.action === 'restart') await api('POST', '/api/restart/' + encodeURIComponent(name));
    else if (!armed.has(name)) { armed.set(name, setTimeout(() => { armed.delete(name); refresh(); }, 5000)); }
    else { clearTimeout(armed.get(name)); armed.delete(name); await api('POST', '/api/destroy/' + encodeURIComponent(name)); }
  } catch (e) { showError(e); }
  refresh();
});

$('#create').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const f = new FormData(ev.target);
  const list = (field) => String(f.get(field) || '').split(',').map((s) => s.trim()).filter(Boolean);
  showError();
  try {
    const nets = list('net').map((s) => {
      const m = /^([^=]+)=([^@]+)(?:@(.+))?$/.exec(s);
      if (!m) throw new Error('net device: write DEV=BRIDGE or DEV=BRIDGE@MAC');
      return m[3] ? { dev: m[1], bridge: m[2], mac: m[3] } : { dev: m[1], bridge: m[2] };
    });
    const blocks = list('block').map((s) => {
      const m = /^([^=]+)=(.+)$/.exec(s);
      if (!m) throw new Error('block device: write DEV=VOLUME');
      return { dev: m[1], volume: m[2] };
    });
    const spec = {
      name: f.get('name'), image: f.get('image'), nets, blocks,
      memMb: f.get('mem') ? Number(f.get('mem')) : undefined,
      restart: f.get('restart') ? { kind: 'on-failure', codes: [] } : undefined,
      bootArgs: String(f.get('args') || '').split(/\\s+/).filter(Boolean),
    };
    await api('POST', '/api/create', spec);
    openConsole(spec.name);
  } catch (e) { showError(e); }
  refresh();
});

if (!token) showError(new Error('no token: open the address the daemon printed at start (…/#token=…)'));
refresh();
setInterval(refresh, 1000);
`;
