// Strict parameters: every endpoint names the parameters it takes, and anything else is a 400
// whose hint names the closest one it does take, so a typo (`sesion=`, `wiat=`) is never
// silently ignored. Pure: no I/O.
import { CREDENTIAL_PARAMS } from './credentials.js';
import { HttpError } from './httpError.js';
import type { Query } from './query.js';

/** Edit distance between two short strings (Levenshtein). */
export function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i += 1) {
    const current = [i];
    for (let j = 1; j <= b.length; j += 1) {
      const substitution = (previous[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1);
      current.push(Math.min((previous[j] ?? 0) + 1, (current[j - 1] ?? 0) + 1, substitution));
    }
    previous = current;
  }
  return previous[b.length] ?? 0;
}

export function closest(name: string, known: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const candidate of known) {
    const distance = editDistance(name.toLowerCase(), candidate);
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  return best;
}

/** A name a typo of `nearest` could have made: close to it, and a name at all. */
function isTypo(name: string, nearest: string | undefined): nearest is string {
  return nearest !== undefined && /^[a-z_0-9]{2,20}$/i.test(name) && editDistance(name.toLowerCase(), nearest) <= 2;
}

/** Throws 400 for the first parameter `path` does not take. */
export function checkParams(path: string, query: Query, takes: readonly string[]): void {
  for (const name of query.keys()) {
    if (takes.includes(name) || CREDENTIAL_PARAMS.includes(name)) continue;
    const shown = JSON.stringify(name.length > 40 ? `${name.slice(0, 40)}…` : name);
    const nearest = takes.length === 0 ? undefined : closest(name, takes);
    const offered = takes.length === 0 ? `${path} takes no parameters` : `${path} takes ${takes.join(', ')}`;
    const typo = isTypo(name, nearest);
    // With a command in the request, an unknown name is most often the rest of that command,
    // cut at an & that was not encoded.
    const cutCommand = query.has('cmd')
      ? `if ${shown} was part of your command, an unencoded & ended cmd there: encode & as %26 (and + as %2B, # as %23), or send the command as cmd64=`
      : undefined;
    const hint = typo ? `did you mean ${nearest}? ${offered}${cutCommand === undefined ? '' : `; ${cutCommand}`}` : cutCommand === undefined ? `${offered}; remove ${shown}` : `${cutCommand}; ${offered}`;
    throw new HttpError(400, `${path} does not take the parameter ${shown}`, hint);
  }
}
