// Which part of a ticket's stored output an answer shows, as types: a window the agent asked
// for (offset, limit), or the default view of OUTPUT_VIEW_BYTES (head and tail of a long one);
// and what was collected for it. The collector (storage) fills them; the views (answers) show them.

/** An exact window of the stored output, from `offset=` and `limit=`. */
export interface OutputWindow {
  readonly offset: number;
  readonly limit: number;
}

export type OutputPlan = { readonly kind: 'view'; readonly viewBytes: number } | ({ readonly kind: 'window' } & OutputWindow);

/** What was kept: `storedBytes` is the size of the whole stored output. */
export type CollectedOutput =
  | { readonly kind: 'whole'; readonly storedBytes: number; readonly text: string }
  | { readonly kind: 'head-tail'; readonly storedBytes: number; readonly head: Buffer; readonly tail: Buffer }
  | { readonly kind: 'window'; readonly storedBytes: number; readonly offset: number; readonly bytes: Buffer };

/** The head half of a view: the tail gets the rest. */
export function headShare(viewBytes: number): number {
  return Math.floor(viewBytes / 2);
}
