import type { MaybePromise, PinStore } from './pin-store';
import type { RandomSource } from './random-source';
import type { Choice, CompiledDeployment, RoutingTable } from './routing-table';
import { resolveDeployment, type ScopeInput } from './scope';
import type { CookieSigner } from './signed-cookie';

/** What the router needs to know about one request. */
export interface RouteInput extends ScopeInput {
  /** The trusted revision header's value, ONLY when the request came from a trusted source (else leave it out). */
  readonly trustedRevision?: string | undefined;
  /** The request's Cookie header; the router reads the resolved deployment's sticky cookie from it. */
  readonly cookieHeader?: string | undefined;
  /** The session id (e.g. a conversation id), if the request belongs to a session. */
  readonly sessionId?: string | undefined;
}

/** Options of a router. */
export interface RouterOptions {
  /** The random source for weighted choice (default `Math.random`; `createSeededRandom(seed)` for replays). */
  readonly random?: RandomSource;
  /** Verifies sticky cookies; without one, cookies are ignored. */
  readonly cookieSigner?: CookieSigner;
  /** Session pins; without one, session ids are ignored. */
  readonly pinStore?: PinStore;
}

/** Picks a revision per request. Holds the current routing table; `setTable` swaps it atomically. */
export interface Router {
  /** The routing table in use. */
  readonly table: RoutingTable;
  /** Swap in a new table; decisions already made keep the objects of the table they were made with. */
  setTable(table: RoutingTable): void;
  /** Decide for one request; synchronous unless the pin store answers asynchronously. */
  route(input: RouteInput): MaybePromise<Choice>;
}

/**
 * Choose a revision of `deployment`, trying in order: the trusted header, the signed cookie, the session pin,
 * then weighted random over Ready revisions. A header, cookie or pin naming a revision that is gone falls
 * through to the next source. Ready and draining revisions honour header, cookie and pin (a draining revision
 * keeps its sessions); only Ready revisions with weight take new sessions. Pure: no I/O, no allocation.
 *
 * @example
 * const c = chooseRevision(deployment, undefined, undefined, 'r7', Math.random);
 * if (c.kind === 'routed') console.log(c.revision.endpoint, c.via);
 */
export function chooseRevision(
  deployment: CompiledDeployment,
  trustedRevision: string | undefined,
  cookieRevision: string | undefined,
  pinnedRevision: string | undefined,
  random: RandomSource,
): Choice {
  const byHeader = trustedRevision === undefined ? undefined : deployment.byId.get(trustedRevision);
  if (byHeader !== undefined) return byHeader.choices.header;
  const byCookie = cookieRevision === undefined ? undefined : deployment.byId.get(cookieRevision);
  if (byCookie !== undefined) return byCookie.choices.cookie;
  const byPin = pinnedRevision === undefined ? undefined : deployment.byId.get(pinnedRevision);
  if (byPin !== undefined) return byPin.choices.pin;
  return chooseWeighted(deployment, random);
}

/**
 * Weighted random over the Ready revisions with weight > 0 (cumulative weights, precomputed per generation).
 *
 * @example
 * const c = chooseWeighted(deployment, createSeededRandom(1));
 */
export function chooseWeighted(deployment: CompiledDeployment, random: RandomSource): Choice {
  const weighted = deployment.weighted;
  const n = weighted.length;
  if (n === 0) return deployment.noReadyRevision;
  const cumulative = deployment.cumulative;
  const x = random() * deployment.totalWeight;
  let i = 0;
  if (n <= 8) {
    while (i < n - 1 && x >= cumulative[i]!) i++;
  } else {
    let lo = 0;
    let hi = n - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (x < cumulative[mid]!) hi = mid;
      else lo = mid + 1;
    }
    i = lo;
  }
  return weighted[i]!.choices.weighted;
}

/**
 * Create a router over a routing table. `route` resolves the deployment (scoped routing), verifies the cookie,
 * reads the session pin, chooses, and re-pins the session when the choice was weighted (a new session, or a pin
 * to a revision that is gone).
 *
 * @example
 * const compiled = compileRoutingTable(config);
 * if (!compiled.ok) throw new Error(formatErrors(compiled.errors));
 * const router = createRouter(compiled.table, { pinStore: createMemoryPinStore() });
 * const choice = await router.route({ host: 'acme.test', path: '/chat', sessionId: 's-1' });
 */
export function createRouter(initial: RoutingTable, options: RouterOptions = {}): Router {
  const random = options.random ?? Math.random;
  const signer = options.cookieSigner;
  const pins = options.pinStore;
  let table = initial;

  /** The choice once the pin store answered: the pinned revision, else weighted (and the session pinned to it). */
  const afterPin = (
    store: PinStore,
    deployment: CompiledDeployment,
    sessionId: string,
    pinned: string | undefined,
  ): MaybePromise<Choice> => {
    const choice = chooseRevision(deployment, undefined, undefined, pinned, random);
    // A new session, or a pin to a revision that is gone, was chosen by weight: pin it to the choice.
    if (choice.kind !== 'routed' || choice.via !== 'weighted') return choice;
    const written = store.set(deployment.key, sessionId, choice.revision.id);
    return written instanceof Promise ? written.then(() => choice) : choice;
  };

  return {
    get table() {
      return table;
    },
    setTable(next) {
      table = next;
    },
    route(input) {
      const scoped = resolveDeployment(table, input);
      if (scoped.kind === 'no-route') return scoped;
      const deployment = scoped;
      const trustedRevision = input.trustedRevision;
      if (trustedRevision !== undefined) {
        const r = deployment.byId.get(trustedRevision);
        if (r !== undefined) return r.choices.header;
      }
      const cookieHeader = input.cookieHeader;
      if (signer !== undefined && cookieHeader !== undefined) {
        const cookie = readCookie(cookieHeader, deployment.cookieName);
        const cookieRevision = cookie !== undefined ? signer.verify(deployment.key, cookie) : undefined;
        if (cookieRevision !== undefined) {
          const r = deployment.byId.get(cookieRevision);
          if (r !== undefined) return r.choices.cookie;
        }
      }
      const sessionId = input.sessionId;
      if (pins === undefined || sessionId === undefined) return chooseWeighted(deployment, random);
      const pinned = pins.get(deployment.key, sessionId);
      // In-memory stores answer synchronously (a string or nothing); network stores with a promise.
      if (pinned === undefined || typeof pinned === 'string') return afterPin(pins, deployment, sessionId, pinned);
      return pinned.then((p) => afterPin(pins, deployment, sessionId, p));
    },
  };
}

/**
 * The value of cookie `name` in a Cookie header (RFC 6265 §4.2: `a=1; b=2`), without allocating unless found.
 *
 * @example
 * readCookie('theme=dark; gtr_acme_support=v1.r7.1700000000.abc', 'gtr_acme_support'); // 'v1.r7.1700000000.abc'
 */
export function readCookie(header: string, name: string): string | undefined {
  let i = header.indexOf(name);
  while (i >= 0) {
    const before = i === 0 ? 59 : header.charCodeAt(i - 1);
    if ((before === 59 /* ; */ || before === 32) /* space */ && header.charCodeAt(i + name.length) === 61 /* = */) {
      const start = i + name.length + 1;
      const end = header.indexOf(';', start);
      return (end < 0 ? header.slice(start) : header.slice(start, end)).trim();
    }
    i = header.indexOf(name, i + 1);
  }
  return undefined;
}
