// Markdown to HTML pages (marked) and HTML escaping. Pages carry one stylesheet, allowed by
// its hash in the Content-Security-Policy, and never any script unless a page adds one by nonce.
import crypto from 'node:crypto';
import fs from 'node:fs';
import { marked } from 'marked';
import { MAX_REASON_BYTES } from '../protocol/endpoints.js';

export const PAGE_STYLE = `
body { font: 16px/1.5 system-ui, sans-serif; max-width: 60rem; margin: 2rem auto; padding: 0 1rem; color: #1d1d1f; }
pre, code { font: 14px/1.4 ui-monospace, monospace; }
pre { background: #f4f4f5; padding: .75rem; overflow-x: auto; white-space: pre-wrap; word-break: break-all; }
table { border-collapse: collapse; } td, th { border: 1px solid #ddd; padding: .25rem .5rem; text-align: left; }
.ticket { border-top: 1px solid #ddd; padding: .5rem 0; }
.status { font-weight: bold; } .status.running, .status.queued { color: #b45309; } .status.done { color: #15803d; }
.status.error, .status.timeout, .status.canceled, .status.interrupted, .status.failed { color: #b91c1c; }
`;

function cspHash(text: string): string {
  return `'sha256-${crypto.createHash('sha256').update(text, 'utf8').digest('base64')}'`;
}

const STYLE_SOURCE = cspHash(PAGE_STYLE);

/** The policy for a page: no script at all, or only the script carrying `nonce`. */
/** The pages' Content-Security-Policy; `forms`: its forms may POST to this server (the approval buttons). */
export function pageCsp(nonce?: string, forms = false): string {
  const script = nonce === undefined ? "script-src 'none'" : `script-src 'nonce-${nonce}'`;
  return [
    "default-src 'none'",
    `style-src ${STYLE_SOURCE}`,
    "img-src 'self' data:",
    script,
    "connect-src 'self'",
    "base-uri 'none'",
    forms ? "form-action 'self'" : "form-action 'none'",
    "frame-ancestors 'none'",
  ].join('; ');
}

/**
 * A pending command's two buttons: forms that POST to `approve` and `deny` (URLs relative to the
 * page, or the server's), the denial with a reason field. A GET of either decides nothing.
 */
export function decisionForms(approve: string, deny: string): string {
  return (
    `<form method="post" action="${escapeHtml(approve)}"><button type="submit" class="approve">Approve</button></form> ` +
    `<form method="post" action="${escapeHtml(deny)}"><input name="reason" maxlength="${MAX_REASON_BYTES}" placeholder="why (told to the agent)"> <button type="submit" class="deny">Deny</button></form>`
  );
}

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** A page's opening, up to and including `<body>`: pages that stream their body start here. */
export function pageStart(title: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<link rel="icon" href="data:,">
<title>${escapeHtml(title)}</title>
<style>${PAGE_STYLE}</style>
</head>
<body>
`;
}

/** A page's end, with its script if it has one. */
export function pageEnd(script?: { nonce: string; source: string }): string {
  const scriptTag = script === undefined ? '' : `\n<script nonce="${script.nonce}">${script.source}</script>`;
  return `${scriptTag}
</body>
</html>
`;
}

export function page(title: string, bodyHtml: string, script?: { nonce: string; source: string }): string {
  return pageStart(title) + bodyHtml + pageEnd(script);
}

export function markdownToHtml(markdown: string): string {
  return marked.parse(markdown, { async: false, gfm: true });
}

/** Replaces `{NAME}` placeholders; unknown ones stay as written. */
export function fillPlaceholders(text: string, values: Readonly<Record<string, string>>): string {
  return text.replace(/\{([A-Z_]+)\}/g, (whole, name: string) => values[name] ?? whole);
}

/** Reads a document shipped beside dist/ (README.md, CONTEXT.md); cached after the first read. */
export function documentReader(file: URL): () => string | undefined {
  let cached: string | undefined;
  return () => {
    if (cached === undefined && fs.existsSync(file)) cached = fs.readFileSync(file, 'utf8');
    return cached;
  };
}
