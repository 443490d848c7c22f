// The site as one request's answers show it: its ready URLs carry tokens minted for whoever
// asked (never a key), of no more than the kind the asker has. Shared by the GET routes and MCP.
import type { Principal } from '../auth/auth.js';
import type { AppDeps } from './requestContext.js';
import type { Access } from '../auth/tokens.js';
import type { Front, ViewContext } from '../answers/viewContext.js';

export function requestView(deps: AppDeps, principal: Principal | undefined, front: Front = 'get'): ViewContext {
  const minted = new Map<string, string>();
  return {
    get fqdn() {
      return deps.site.fqdn;
    },
    maxWait: deps.site.maxWait,
    outputViewBytes: deps.site.outputViewBytes,
    approvalTimeout: deps.site.approvalTimeout,
    cursor: deps.site.cursor,
    front,
    credential(session, access) {
      if (principal === undefined) throw new Error('a ready URL was asked for on a route without a credential');
      // Never more than the asker has: a read token's answers carry read tokens.
      const kind: Access = principal.kind === 'token' && principal.access === 'read' ? 'read' : (access ?? 'exec');
      const cacheKey = `${kind}/${session}`;
      let token = minted.get(cacheKey);
      if (token === undefined) {
        token = deps.tokens.get(principal.key, session, kind);
        minted.set(cacheKey, token);
      }
      return `token=${token}`;
    },
  };
}

