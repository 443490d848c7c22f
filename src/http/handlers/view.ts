// GET /view: a person's page of a session's transcript that updates itself while tickets run.
// Every command and output is HTML-escaped on the server and set as text by the script; the
// page holds no credential: its script reads it (a key, or a read token) from its own address
// and sends it as a header.
import crypto from 'node:crypto';
import type { AppDeps, Handler } from '../requestContext.js';
import { htmlSecurityHeaders, sendTextStream } from '../respond.js';
import { isFinal, type DamagedEntry, type TicketView } from '../../protocol/types.js';
import { escapeHtml, pageCsp, pageEnd, pageStart } from '../../answers/html.js';
import type { ViewContext } from '../../answers/viewContext.js';
import { statusParts } from '../../answers/statusLine.js';
import { requireKnownSession, requireOwnSessionParam } from './lookups.js';
import { historyBatches } from './history.js';
import { pendingHtml } from './sessions.js';
import { approvalLinks, isOperator } from '../approvalLinks.js';

const FINAL = "['done','timeout','canceled','interrupted','error','denied']";

const SCRIPT = `(() => {
  const params = new URLSearchParams(location.search);
  const credential = params.get('token') || params.get('hash') || '';
  const session = params.get('session') || '';
  const list = document.getElementById('tickets');
  const state = document.getElementById('state');
  const final = new Set(${FINAL});
  let settled = Number(state.dataset.settled || '0');
  let active = state.dataset.active === '1';
  // The status line's one definition (answers/statusLine.ts), as compiled, headed as pageStatus()
  // heads it: the page reads the same before and after a refresh.
  ${statusParts.toString()}
  function statusText(t) {
    return ['#' + t.ticket, ...statusParts(t).slice(1)].join(' · ');
  }
  function render(t) {
    let el = document.getElementById('t' + t.ticket);
    if (!el) {
      el = document.createElement('section');
      el.id = 't' + t.ticket;
      el.className = 'ticket';
      for (const cls of ['status', 'cmd', 'out', 'page']) {
        const part = document.createElement(cls === 'status' ? 'div' : cls === 'page' ? 'a' : 'pre');
        part.className = cls;
        el.appendChild(part);
      }
      list.appendChild(el);
    }
    const status = el.querySelector('.status');
    if (t.type === 'damaged') {
      status.textContent = '#' + t.ticket + ' · damaged';
      status.className = 'status damaged';
      el.querySelector('.out').textContent = t.error;
      return;
    }
    el.querySelector('.cmd').textContent = '$ ' + t.input;
    el.querySelector('.out').textContent = t.output;
    status.textContent = statusText(t);
    status.className = statusClass(t);
    const page = el.querySelector('.page');
    if (t.next_page) {
      page.href = t.next_page;
      page.textContent = 'the rest of the output';
    } else {
      page.removeAttribute('href');
      page.textContent = '';
    }
  }
  // A command that ran and failed is a failure, not a success: its own colour.
  function statusClass(t) {
    return 'status ' + t.status + (t.status === 'done' && t.exit_code !== 0 ? ' failed' : '');
  }
  async function poll() {
    try {
      const answer = await fetch('history?session=' + encodeURIComponent(session) + '&after=' + settled, {
        headers: { Authorization: 'Bearer ' + credential }, cache: 'no-store', referrerPolicy: 'no-referrer',
      });
      if (answer.ok) {
        const views = await answer.json();
        active = false;
        for (const t of views) {
          render(t);
          if (t.type !== 'damaged' && !final.has(t.status)) active = true;
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

/** A ticket's status on the page: the status line's words, headed by its number as `#3`. */
function pageStatus(view: TicketView): string {
  return [`#${view.ticket}`, ...statusParts(view).slice(1)].join(' · ');
}

/** The status's classes: its name, and `failed` for a command that ran and exited non-zero (kept in step with the script's statusClass). */
function statusClass(view: TicketView): string {
  return `status ${view.status}${view.status === 'done' && view.exit_code !== 0 ? ' failed' : ''}`;
}

function ticketHtml(v: TicketView): string {
  // The part of a long output not shown here is a link, not words about one.
  const page = v.next_page === undefined ? '<a class="page"></a>' : `<a class="page" href="${escapeHtml(v.next_page)}">the rest of the output</a>`;
  return `<section class="ticket" id="t${v.ticket}">
<div class="${escapeHtml(statusClass(v))}">${escapeHtml(pageStatus(v))}</div>
<pre class="cmd">${escapeHtml(`$ ${v.input}`)}</pre>
<pre class="out">${escapeHtml(v.output)}</pre>
${page}
</section>
`;
}

function damagedHtml(entry: DamagedEntry): string {
  return `<section class="ticket" id="t${entry.ticket}">
<div class="status damaged">${escapeHtml(`#${entry.ticket} · damaged`)}</div>
<pre class="cmd"></pre>
<pre class="out">${escapeHtml(entry.error)}</pre>
</section>
`;
}

export const view: Handler = async (ctx) => {
  const { req, res, query, deps } = ctx;
  const session = await requireOwnSessionParam(ctx, query);
  await requireKnownSession(deps, session);
  const numbers = await deps.store.ticketNumbers(session);
  const nonce = crypto.randomBytes(16).toString('base64');
  const operator = isOperator(ctx.principal);
  await sendTextStream(req, res, viewPage(deps, readOnly(ctx.view), session, numbers, nonce, operator), 'text/html; charset=utf-8', htmlSecurityHeaders(pageCsp(nonce, operator)));
};

/** The page's links open no more than the page does: read tokens, whoever asked for it. */
function readOnly(view: ViewContext): ViewContext {
  return { ...view, credential: (session) => view.credential(session, 'read') };
}

/** The page, streamed: tickets are rendered a batch at a time, as /history reads them. */
async function* viewPage(deps: AppDeps, view: ViewContext, session: string, numbers: readonly number[], nonce: string, operator: boolean): AsyncGenerator<string> {
  yield pageStart(`LLMASS session ${session}`) + `<h1>Session ${escapeHtml(session)}</h1>\n`;
  // The operator's page: the commands waiting for a decision, with the buttons, first.
  const pending = operator ? deps.scheduler.pendingOf(session) : [];
  if (pending.length > 0) {
    const items = pending.map((record) => `<li>${pendingHtml({ ticket: record.ticket, command: record.input, submitted_at: record.submitted_at, ...approvalLinks(deps, session, record.ticket) })}</li>`);
    yield `<h2>Waiting for your approval</h2>\n<ul id="pending">\n${items.join('\n')}\n</ul>\n`;
  }
  yield '<div id="tickets">\n';
  // Tickets finished in an unbroken run from 1 need no refresh; the script asks only after them.
  let settled = 0;
  let active = false;
  for await (const batch of historyBatches(deps, view, session, numbers)) {
    let html = '';
    for (const entry of batch) {
      if (entry.type === 'damaged') {
        html += damagedHtml(entry);
        if (entry.ticket === settled + 1 && !active) settled = entry.ticket;
        continue;
      }
      html += ticketHtml(entry);
      if (!isFinal(entry.status)) active = true;
      else if (entry.ticket === settled + 1 && !active) settled = entry.ticket;
    }
    yield html;
  }
  yield `</div>
<p id="state" data-settled="${settled}" data-active="${active ? 1 : 0}">${numbers.length} ticket(s)${active ? ' · running' : ''}</p>
` + pageEnd({ nonce, source: SCRIPT });
}
