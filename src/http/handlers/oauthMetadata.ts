// What an MCP client that speaks OAuth meets here (mcp-remote, and the clients built on the
// SDK): /mcp's protected-resource metadata (RFC 9728) names no authorization server, since
// this server's keys come from its operator, and a client that tries OAuth anyway (dynamic
// client registration, /register) is answered that its key is wrong or missing: the message it
// then shows is that one, not a riddle about OAuth.
import type { Handler } from '../requestContext.js';
import { sendJson } from '../respond.js';

export const protectedResource: Handler = async ({ req, res, deps }) => {
  sendJson(req, res, 200, {
    resource: `${deps.site.fqdn}/mcp`,
    bearer_methods_supported: ['header'],
    resource_name: 'LLMASS',
    resource_documentation: `${deps.site.fqdn}/`,
  });
};

export const noRegistration: Handler = async ({ req, res }) => {
  // Read and dropped: the client may have sent its registration request.
  req.resume();
  sendJson(req, res, 400, {
    error: 'invalid_client_metadata',
    error_description:
      'LLMASS offers no OAuth: the key in your Authorization header is wrong or missing. Give the client the header Authorization: Bearer <key>, with the key the operator gave you (for mcp-remote: --header "Authorization: Bearer <key>").',
  });
};
