// GET /view: a person's page of a session's transcript that updates itself while tickets run.
// Every command and output is HTML-escaped on the server and set as text by the script; the
// page holds no hash: its script reads it from its own address and sends it as a header.
import crypto from 'node:crypto';
import type { Handler } from '../deps.js';
import { sendHtml } from '../http.js';
import { requireSession } from '../params.js';
import { isFinal, type TicketView } from '../protocol.js';
import { escapeHtml, page, pageCsp } from '../render.js';
import { ticketView } from '../views.js';
import { requireKnownSession } from './common.js';

const FINAL = "['done','timeout','canceled','interrupted','error']";

/** Kept in step with statusText() below: the page must read the same before and after a refresh. */
function statusText(view: TicketView): string {
  const parts = [`#${view.ticket}`, view.status];
  if (view.exit_code !== null) parts.push(`exit ${view.exit_code}`);
  if (view.signal !== null) parts.push(view.signal);
  if (view.duration_ms !== null) parts.push(`${view.duration_ms} ms`);
  return parts.join(' · ');
}

const SCRIPT = `(() => {
  const params = new URLSearchParams(location.search);
  const hash = params.get('hash') || '';
  const session = params.get('session') || '';
  const list = document.getElementById('tickets');
  const state = document.getElementById('state');
  const final = new Set(${FINAL});
  let settled = Number(list.dataset.settled || '0');
  let active = list.dataset.active === '1';
  function statusText(t) {
    const parts = ['#' + t.ticket, t.status];
    if (t.exit_code !== null) parts.push('exit ' + t.exit_code);
    if (t.signal !== null) parts.push(t.signal);
    if (t.duration_ms !== null) parts.push(t.duration_ms + ' ms');
    return parts.join(' · ');
  }
  function render(t) {
    let el = document.getElementById('t' + t.ticket);
    if (!el) {
      el = document.createElement('section');
      el.id = 't' + t.ticket;
      el.className = 'ticket';
      for (const cls of ['status', 'cmd', 'out']) {
        const part = document.createElement(cls === 'status' ? 'div' : 'pre');
        part.className = cls;
        el.appendChild(part);
      }
      list.appendChild(el);
    }
    el.querySelector('.cmd').textContent = '$ ' + t.input;
    el.querySelector('.out').textContent = t.output;
    const status = el.querySelector('.status');
    status.textContent = statusText(t);
    status.className = 'status ' + t.status;
  }
  async function poll() {
    try {
      const answer = await fetch('history?session=' + encodeURIComponent(session) + '&after=' + settled, {
        headers: { Authorization: 'Bearer ' + hash }, cache: 'no-store', referrerPolicy: 'no-referrer',
      });
      if (answer.ok) {
        const views = await answer.json();
        active = false;
        for (const t of views) {
          render(t);
          if (!final.has(t.status)) active = true;
          else if (t.ticket === settled + 1 && !active) settled = t.ticket;
        }
        state.textContent = 'Updated ' + new Date().toLocaleTimeString() + (active ? ' · running' : ' · idle');
      } else {
        state.textContent = 'Update failed: HTTP ' + answer.status;
      }
    } catch (error) {
      state.textContent = 'Update failed: ' + error;
    }
    setTimeout(poll, active ? 1000 : 2000);
  }
  setTimeout(poll, active ? 1000 : 2000);
})();`;

export const view: Handler = async (ctx) => {
  const { req, res, query, deps } = ctx;
  const session = requireSession(query);
  ctx.log.session = session;
  await requireKnownSession(deps, session);
  const views: TicketView[] = [];
  for (const n of await deps.store.ticketNumbers(session)) {
    const found = await deps.scheduler.get(session, n);
    if (found !== undefined) views.push(ticketView(deps.view, found.record, found.live));
  }
  let settled = 0;
  for (const v of views) {
    if (v.ticket !== settled + 1 || !isFinal(v.status)) break;
    settled = v.ticket;
  }
  const active = views.some((v) => !isFinal(v.status));
  const tickets = views
    .map(
      (v) => `<section class="ticket" id="t${v.ticket}">
<div class="status ${escapeHtml(v.status)}">${escapeHtml(statusText(v))}</div>
<pre class="cmd">${escapeHtml(`$ ${v.input}`)}</pre>
<pre class="out">${escapeHtml(v.output)}</pre>
</section>`,
    )
    .join('\n');
  const body = `<h1>Session ${escapeHtml(session)}</h1>
<p id="state">${views.length} ticket(s)${active ? ' · running' : ''}</p>
<div id="tickets" data-settled="${settled}" data-active="${active ? 1 : 0}">
${tickets}
</div>`;
  const nonce = crypto.randomBytes(16).toString('base64');
  sendHtml(req, res, 200, page(`LLMASS session ${session}`, body, { nonce, source: SCRIPT }), pageCsp(nonce));
};
