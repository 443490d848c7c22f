// The answers' JSON Schemas (2020-12, as OpenAPI 3.1 takes them): what /openapi.json documents
// and what the tests check every real answer against, so that the two cannot drift apart.
// Objects are closed (additionalProperties: false): a field the code adds without documenting
// it here fails the tests.
type Schema = Record<string, unknown>;

const int = (description: string, minimum = 0): Schema => ({ type: 'integer', minimum, description });
const str = (description: string): Schema => ({ type: 'string', description });
const nullable = (schema: Schema): Schema => ({ ...schema, type: [schema.type as string, 'null'] });
const url = (description: string): Schema => ({ type: 'string', format: 'uri', description });

const STATUS = {
  type: 'string',
  enum: ['pending', 'queued', 'running', 'done', 'timeout', 'canceled', 'interrupted', 'error', 'denied'],
  description: 'pending (waiting for a person\'s approval), queued, running: not finished; done: see exit_code; denied: not run, see reason',
};

const QUEUE_FIELDS: Record<string, Schema> = {
  queue_position: int('queued: its place in the queue, 1 for the first to start when room comes', 1),
  queued_behind: {
    description: 'queued: what holds it',
    oneOf: [
      {
        type: 'object',
        properties: { kind: { const: 'session' }, ticket: int('the earlier ticket of its session, which runs first', 1) },
        required: ['kind', 'ticket'],
        additionalProperties: false,
      },
      {
        type: 'object',
        properties: {
          kind: { const: 'slots' },
          running: int('commands running now'),
          max_concurrency: int('commands that may run at once (MAX_CONCURRENCY)', 1),
          sessions: { type: 'array', items: { type: 'string' }, description: 'the sessions running them' },
        },
        required: ['kind', 'running', 'max_concurrency', 'sessions'],
        additionalProperties: false,
      },
    ],
  },
};

const TICKET_FIELDS: Record<string, Schema> = {
  type: { type: 'string', enum: ['status', 'result'], description: 'status while queued or running, result once finished' },
  ticket: int('the ticket number, 1, 2, 3 … per session', 1),
  session: str('the session name'),
  input: str('the command as sent (a key in it reads REDACTED); a long one shows its first KiB (input=full: all of it)'),
  input_bytes: int('the whole command\'s length in bytes, when input shows only its first KiB'),
  status: STATUS,
  exit_code: nullable(int('the shell\'s exit code once done', -1)),
  signal: nullable(str('the signal that ended the shell, if one did')),
  output: str('stdout and stderr merged, in arrival order; long outputs show head and tail'),
  output_bytes: int('every byte the command wrote'),
  truncated: { type: 'boolean', description: 'true when stored output dropped bytes' },
  output_dropped_bytes: int('bytes written but not stored (gone for good)'),
  output_offset: int('where output starts in the stored output'),
  output_stored_bytes: int('bytes of stored output (what offset/limit page through)'),
  output_omitted_bytes: int('stored bytes this answer does not show'),
  next_page: url('the next part of the stored output'),
  submitted_at: { type: 'string', format: 'date-time' },
  started_at: { type: ['string', 'null'], format: 'date-time' },
  finished_at: { type: ['string', 'null'], format: 'date-time' },
  duration_ms: nullable(int('run time in milliseconds')),
  timeout: int('the ticket\'s time limit in seconds', 1),
  idle_timeout: int('seconds of silence that end the command', 1),
  timeout_kind: { type: 'string', enum: ['hard', 'idle'] },
  reason: str('why it ended as it did, where the status alone does not tell (error: why nothing ran; denied: the reason given, or no decision)'),
  approval: {
    type: 'object',
    description: 'a person\'s decision on a command that waited for one',
    properties: { decision: { type: 'string', enum: ['approved', 'denied'] }, by: { type: 'string', enum: ['HASH', 'link', 'timeout'] }, at: { type: 'string', format: 'date-time' } },
    required: ['decision', 'by', 'at'],
    additionalProperties: false,
  },
  background_ended: int('processes it left running that were ended after it finished (by a cancel, or because they held its user\'s process limit)'),
  background: {
    type: 'array',
    description: 'processes the finished ticket left running, while they run',
    items: { type: 'object', properties: { pid: int('process id', 1), command: str('its command line') }, required: ['pid', 'command'], additionalProperties: false },
  },
  poll: url('unfinished: the callback URL with a long-poll wait; new with every answer'),
  cancel: url('unfinished: stops the command'),
  shell: url('finished: append a URL-encoded command to run the next one in this session'),
  ...QUEUE_FIELDS,
  tty: { type: 'boolean', description: 'true for a command on a terminal (tty=1)' },
  stdin_writes: int('writes to its terminal accepted so far'),
  quiet_ms: int('running on a terminal: milliseconds since its last output'),
  stdin: url('running on a terminal: a prefix for the next write; append the URL-encoded text'),
  notice: str('something about this request the server changed (a shortened wait)'),
  next: str('what to do now, in words'),
};

const TICKET_REQUIRED = ['type', 'ticket', 'session', 'input', 'status', 'exit_code', 'signal', 'output', 'output_bytes', 'truncated', 'submitted_at', 'started_at', 'finished_at', 'duration_ms', 'timeout'];

function object(properties: Record<string, Schema>, required: string[], description: string): Schema {
  return { type: 'object', description, properties, required, additionalProperties: false };
}

export const SCHEMAS: Record<string, Schema> = {
  TicketView: object(TICKET_FIELDS, [...TICKET_REQUIRED, 'next'], 'a ticket as it stands'),
  ShellResult: object(
    { ...TICKET_FIELDS, cached: { type: 'boolean', description: 'true when this replays an earlier identical request' } },
    [...TICKET_REQUIRED, 'next', 'cached'],
    'a submission that finished within wait: the ticket view',
  ),
  CancelAnswer: object({ ...TICKET_FIELDS, canceled: { type: 'boolean', description: 'false when it had already ended' } }, [...TICKET_REQUIRED, 'next', 'canceled'], 'the ticket after the cancel'),
  Submission: object(
    {
      type: { const: 'submission' },
      ticket: int('the ticket number', 1),
      session: str('the session name (new when none was given)'),
      input: str('the command as sent; a long one shows its first KiB'),
      input_bytes: int('the whole command\'s length in bytes, when input shows only its first KiB'),
      status: STATUS,
      cached: { type: 'boolean', description: 'true when this replays an earlier identical request' },
      callback: url('the ticket view'),
      poll: url('the ticket view with a long-poll wait'),
      cancel: url('stops the command'),
      ...QUEUE_FIELDS,
      notice: str('something about this request the server changed'),
      next: str('what to do now'),
    },
    ['type', 'ticket', 'session', 'input', 'status', 'cached', 'callback', 'poll', 'cancel', 'next'],
    'a command accepted, not finished yet',
  ),
  DamagedEntry: object(
    { type: { const: 'damaged' }, ticket: int('the ticket number', 1), session: str('the session'), error: str('what is wrong with its record') },
    ['type', 'ticket', 'session', 'error'],
    'a ticket whose record on disk is damaged',
  ),
  History: {
    type: 'array',
    description: 'the session\'s tickets in ticket order (history entries carry no URLs and no next)',
    items: { oneOf: [object(TICKET_FIELDS, TICKET_REQUIRED, 'a ticket'), { $ref: '#/components/schemas/DamagedEntry' }] },
  },
  Sessions: object(
    {
      type: { const: 'sessions' },
      count: int('how many sessions'),
      sessions: {
        type: 'array',
        items: object(
          {
            session: str('its name'),
            key: { type: ['string', 'null'], description: 'the key that made it (HASH for the operator\'s)' },
            tickets: int('how many tickets'),
            last_ticket: nullable(int('its last ticket number', 1)),
            last_activity: { type: 'string', format: 'date-time' },
            busy: { type: 'boolean', description: 'something is running or queued' },
            history: url('its history'),
            view: url('a read-only live page of it'),
            shell: url('append a URL-encoded command to run one there'),
            pending: {
              type: 'array',
              description: 'commands waiting for approval (the links only for the operator\'s key)',
              items: object(
                { ticket: int('the ticket', 1), command: str('the command'), submitted_at: { type: 'string', format: 'date-time' }, approve: url('POST to approve'), deny: url('POST to deny (&reason=…)') },
                ['ticket', 'command', 'submitted_at'],
                'a pending command',
              ),
            },
          },
          ['session', 'key', 'tickets', 'last_ticket', 'last_activity', 'busy', 'history', 'view', 'shell'],
          'a session',
        ),
      },
      next: str('what to do now'),
    },
    ['type', 'count', 'sessions', 'next'],
    'every session, newest first',
  ),
  ApprovalAnswer: object(
    {
      type: { const: 'approval' },
      session: str('the session'),
      ticket: int('the ticket', 1),
      key: str('the key that submitted it'),
      command: str('the command'),
      status: STATUS,
      submitted_at: { type: 'string', format: 'date-time' },
      decided: { type: 'boolean', description: 'true when this request made a decision' },
      approval: { type: 'object', description: 'the decision made, if any' },
      reason: str('a denial\'s reason'),
      next: str('what to do now'),
    },
    ['type', 'session', 'ticket', 'key', 'command', 'status', 'submitted_at', 'decided', 'next'],
    'a pending command, or the decision on it',
  ),
  StdinAnswer: object(
    { ...TICKET_FIELDS, replay: { type: 'boolean', description: 'true when this write was accepted before: nothing was typed again' } },
    [...TICKET_REQUIRED, 'next', 'replay'],
    'the ticket after the write, its output from where the write began',
  ),
  ScreenAnswer: object(
    {
      type: { const: 'screen' },
      ticket: int('the ticket', 1),
      session: str('the session'),
      status: STATUS,
      cols: int('columns', 1),
      rows: int('rows', 1),
      cursor: object({ row: int('from 0'), col: int('from 0') }, ['row', 'col'], 'where the cursor is'),
      lines: { type: 'array', items: { type: 'string' }, description: 'every row, trailing spaces trimmed' },
    },
    ['type', 'ticket', 'session', 'status', 'cols', 'rows', 'cursor', 'lines'],
    'a terminal\'s screen',
  ),
  UploadAnswer: object(
    {
      type: { const: 'upload' },
      session: str('the session'),
      path: str('the path as given'),
      bytes: int('bytes received so far (all of them once done)'),
      sha256: str('SHA-256 (hex) of the bytes received'),
      done: { type: 'boolean', description: 'true once the file is in place' },
      next: str('what to do now'),
    },
    ['type', 'session', 'path', 'bytes', 'sha256', 'done', 'next'],
    'an upload as it stands',
  ),
  Health: object({ ok: { const: true } }, ['ok'], 'commands can run'),
  Unhealthy: object({ ok: { const: false }, error: str('why commands cannot run now'), hint: str('what the operator should do') }, ['ok', 'error', 'hint'], 'commands cannot run'),
  ErrorAnswer: object({ error: str('what was wrong'), hint: str('how to fix the request') }, ['error', 'hint'], 'an error'),
};
