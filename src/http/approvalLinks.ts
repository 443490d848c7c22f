// Approval links for the operator: minted with the operator's key (HASH) for one pending ticket,
// good until a little after APPROVAL_TIMEOUT. Only the operator's answers (/sessions, /view),
// and the approval webhook, ever carry them: an agent never sees a link that approves.
import { OPERATOR_KEY } from '../auth/keys.js';
import type { Principal } from '../auth/auth.js';
import { approvalUrls } from '../answers/links.js';
import type { AppDeps } from './requestContext.js';

/** Whether `principal` is the operator: its key, or a token its key minted. */
export function isOperator(principal: Principal | undefined): boolean {
  return principal?.key === OPERATOR_KEY;
}

export function approvalLinks(deps: Pick<AppDeps, 'signer' | 'config' | 'site'>, session: string, ticket: number): { readonly approve: string; readonly deny: string } {
  const token = deps.signer.mint(OPERATOR_KEY, session, 'approve', deps.config.approvalTimeout + 600, ticket);
  return approvalUrls(deps.site.fqdn, session, ticket, token);
}
