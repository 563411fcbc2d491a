import { createHash } from 'node:crypto';

/**
 * The console's only script and stylesheet, served from this origin as files (the pages carry no
 * inline script or style, so the Content-Security-Policy can forbid both). Kept as strings here so
 * the build and the image need nothing beside the compiled code.
 */
export const CONSOLE_SCRIPT = `'use strict';
(function () {
  var pairing = document.getElementById('pairing');
  if (!pairing) return;
  var url = pairing.getAttribute('data-poll-url');
  var status = document.getElementById('session-status');
  var reason = document.getElementById('session-reason');
  var figure = document.getElementById('qr');
  var image = document.getElementById('qr-image');
  var waiting = document.getElementById('qr-waiting');
  var paired = document.getElementById('paired');
  var ways = document.getElementById('pairing-ways');
  var live = document.getElementById('pairing-live');
  var qrId = image ? image.getAttribute('data-qr-id') || '' : '';
  var failures = 0;

  function show(element, visible) {
    if (element) element.hidden = !visible;
  }

  function apply(state) {
    if (status && status.textContent !== state.status) {
      status.textContent = state.status;
      status.setAttribute('data-status', state.status);
      if (live) live.textContent = 'Status: ' + state.status;
    }
    if (reason) reason.textContent = state.statusReason || '';
    if (paired && !state.unpaired) {
      paired.textContent = state.status === 'logged_out' ? 'This session is logged out: create a new session to pair the number again.' : 'This session is paired.';
    }
    show(paired, !state.unpaired);
    show(ways, state.unpaired);
    show(figure, state.unpaired && !!state.qrId);
    show(waiting, state.unpaired && !state.qrId);
    if (state.unpaired && state.qrId && state.qrId !== qrId && state.qrImage && image) {
      image.src = state.qrImage;
      image.setAttribute('data-qr-id', state.qrId);
      qrId = state.qrId;
    }
    return state.unpaired;
  }

  function poll() {
    var request = new XMLHttpRequest();
    request.open('GET', url + (url.indexOf('?') < 0 ? '?' : '&') + 'have=' + encodeURIComponent(qrId));
    request.setRequestHeader('Accept', 'application/json');
    request.onload = function () {
      var unpaired = true;
      if (request.status === 200) {
        failures = 0;
        unpaired = apply(JSON.parse(request.responseText));
      } else {
        failures++;
      }
      // Quick while someone scans; slower once paired; backing off while the server is unreachable.
      setTimeout(poll, failures > 0 ? Math.min(30000, 2000 * failures) : unpaired ? 1500 : 5000);
    };
    request.onerror = function () {
      failures++;
      setTimeout(poll, Math.min(30000, 2000 * failures));
    };
    request.send();
  }

  poll();
})();
`;

export const CONSOLE_STYLES = `:root { --fg: #1b1f24; --muted: #4a5360; --bg: #f5f6f8; --card: #fff; --line: #d5d9e0; --accent: #0b5cad; --danger: #a4161a; --ok: #14632d; --warn: #7a4a00; }
* { box-sizing: border-box; }
body { margin: 0; font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--fg); background: var(--bg); line-height: 1.45; }
a { color: var(--accent); }
a:focus-visible, button:focus-visible, input:focus-visible, select:focus-visible { outline: 3px solid #f5a623; outline-offset: 2px; }
.skip { position: absolute; left: -999px; top: 0; background: var(--card); padding: .5rem 1rem; }
.skip:focus { left: .5rem; }
header.top { background: #17324d; color: #fff; padding: .6rem 1rem; display: flex; flex-wrap: wrap; align-items: center; gap: .5rem 1.5rem; }
header.top a { color: #fff; }
header.top .brand { font-weight: 600; text-decoration: none; }
header.top nav ul { list-style: none; display: flex; flex-wrap: wrap; gap: .25rem 1rem; margin: 0; padding: 0; }
header.top nav a[aria-current="page"] { font-weight: 700; text-decoration-thickness: 3px; }
header.top .who { margin-left: auto; font-size: .9rem; }
main { padding: 1rem; max-width: 80rem; margin: 0 auto; }
main.narrow { max-width: 30rem; padding-top: 8vh; }
form.card input { width: 100%; }
fieldset { border: 1px solid var(--line); border-radius: 6px; margin-top: 1rem; }
h1 { font-size: 1.4rem; margin: .5rem 0 1rem; overflow-wrap: anywhere; }
h2 { font-size: 1.15rem; margin: 1.5rem 0 .5rem; }
.card { background: var(--card); border: 1px solid var(--line); border-radius: 8px; padding: 1rem; margin: 1rem 0; }
.card > h2:first-child, .card > h1:first-child { margin-top: 0; }
.notice { border-left: 4px solid var(--ok); background: #e8f4ec; padding: .6rem 1rem; margin-bottom: 1rem; }
.error, [role="alert"] { border-left: 4px solid var(--danger); background: #fbeaea; padding: .6rem 1rem; margin-bottom: 1rem; }
.table-wrap { overflow-x: auto; }
table { border-collapse: collapse; width: 100%; background: var(--card); }
caption { text-align: left; font-weight: 600; padding: .5rem 0; }
th, td { text-align: left; padding: .45rem .6rem; border-bottom: 1px solid var(--line); vertical-align: top; }
th { font-size: .85rem; color: var(--muted); }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
code, .mono { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: .9em; word-break: break-all; }
.status { display: inline-block; padding: .05rem .5rem; border-radius: 999px; font-size: .85rem; font-weight: 600; border: 1px solid currentColor; }
.status[data-status="online"], .status[data-status="completed"] { color: var(--ok); }
.status[data-status="pairing"], .status[data-status="connecting"], .status[data-status="queued"], .status[data-status="running"] { color: var(--warn); }
.status[data-status="offline"], .status[data-status="logged_out"], .status[data-status="failed"], .status[data-status="cancelled"] { color: var(--danger); }
.muted { color: var(--muted); }
form.inline { display: inline; }
button.link { background: none; border: 0; padding: 0; min-height: 0; color: inherit; text-decoration: underline; cursor: pointer; font: inherit; }
form.stack label { display: block; margin: .6rem 0 .2rem; font-weight: 600; }
input, select, button { font: inherit; padding: .45rem .6rem; border: 1px solid #8a94a3; border-radius: 6px; background: #fff; color: var(--fg); min-height: 2.5rem; }
button { background: var(--accent); color: #fff; border-color: var(--accent); cursor: pointer; }
button.danger { background: var(--danger); border-color: var(--danger); }
button.secondary { background: #fff; color: var(--accent); }
.filters { display: flex; flex-wrap: wrap; gap: .5rem; align-items: end; margin-bottom: 1rem; }
.filters label { display: block; font-size: .85rem; font-weight: 600; }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: .3rem 1rem; margin: 0; }
dl.facts dt { color: var(--muted); }
dl.facts dd { margin: 0; }
.pairing-grid { display: grid; grid-template-columns: minmax(0, 1fr) minmax(0, 1fr); gap: 1rem; }
#qr img { width: 100%; max-width: 320px; height: auto; image-rendering: pixelated; border: 8px solid #fff; }
.code { font-size: 2.6rem; letter-spacing: .3rem; font-weight: 700; font-family: ui-monospace, Menlo, Consolas, monospace; margin: .5rem 0; }
progress { width: 8rem; height: 1rem; vertical-align: middle; }
.actions { display: flex; flex-wrap: wrap; gap: .75rem; align-items: center; }
.pager { margin-top: 1rem; }
.visually-hidden { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap; }
@media (max-width: 48rem) {
  .pairing-grid { grid-template-columns: 1fr; }
  table.cards thead { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); }
  table.cards, table.cards tbody, table.cards tr, table.cards td { display: block; width: 100%; }
  table.cards tr { border: 1px solid var(--line); border-radius: 8px; margin-bottom: .75rem; padding: .25rem .5rem; background: var(--card); }
  table.cards td { border: 0; padding: .25rem 0; text-align: left; }
  table.cards td::before { content: attr(data-label); display: block; font-size: .8rem; color: var(--muted); font-weight: 600; }
  header.top .who { margin-left: 0; }
}
`;

/** Content-addressed, so the pages can let browsers cache the files for good. */
export const SCRIPT_PATH = `/admin/assets/console-${digest(CONSOLE_SCRIPT)}.js`;
export const STYLES_PATH = `/admin/assets/console-${digest(CONSOLE_STYLES)}.css`;

function digest(text: string): string {
  return createHash('sha256').update(text).digest('hex').slice(0, 12);
}
