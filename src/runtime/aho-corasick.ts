/* eslint-disable @typescript-eslint/no-non-null-assertion -- byte and table indices in hot loops, in range by the loop bounds: no checks there */
/**
 * Aho–Corasick automaton over bytes, for finding secret values in output in
 * one pass whatever their number and length.
 *
 * Memory is about 22 bytes per byte of the patterns (a 1 MB secret: ~22 MB
 * while a command runs, ~40 MB while building; a 256-entry table per state
 * would be 1 GB): children are stored sparsely (sorted, contiguous in BFS
 * order) with failure links; only the root, visited most often, has a dense
 * table. A step costs at most a binary search over one node's children
 * (≤ 9 comparisons), and the failure links followed over a whole stream never
 * outnumber its bytes (each byte deepens the state by at most one, each
 * failure link makes it shallower), so scanning is O(bytes) amortised.
 * Building is linear in the patterns' total length (after sorting them).
 */

/** Bytes skipped by hand at the root before searching with indexOf (whose call costs about as much as that). */
const HAND_SKIP = 32;
/** Up to this many distinct first bytes, the root searches for them with indexOf. */
const FEW_FIRSTS = 4;

type Tables = {
  /** Children of node u are the nodes childStart[u] … childStart[u + 1] - 1, sorted by edge byte. */
  childStart: Int32Array;
  /** The byte on the edge into each node. */
  edge: Uint8Array;
  fail: Int32Array;
  /** Length of the string spelled by each node (its depth). */
  depthOf: Int32Array;
  /** Length of the longest pattern that ends each node's string (0: none). */
  matchOf: Int32Array;
  /** A pattern that begins with each node's string: where its bytes can be read back. */
  repOf: Int32Array;
  /** The root's children by byte (0: none), dense. */
  rootNext: Int32Array;
};

export class AhoCorasick {
  /** Length of the longest pattern (0 if none). */
  readonly longest: number;
  /** Nodes (states), the root included. */
  readonly size: number;
  private readonly t: Tables;
  private readonly patterns: Buffer[];
  /** The bytes that begin a pattern, when they are few (else null). */
  private readonly firsts: number[] | null;

  constructor(values: ReadonlyArray<string | Uint8Array>) {
    // Sorted and unique: each new pattern shares a prefix with the previous one only, and a node's children come in byte order.
    const sorted = values
      .map((v) => (typeof v === 'string' ? Buffer.from(v) : Buffer.from(v))) // copies: UTF-8 of a string, the bytes of an array
      .filter((b) => b.length > 0)
      .sort((a, b) => Buffer.compare(a, b));
    this.patterns = sorted.filter((p, i) => i === 0 || !p.equals(sorted[i - 1]!));
    this.longest = this.patterns.reduce((m, p) => Math.max(m, p.length), 0);
    this.t = build(this.patterns, this.longest);
    this.size = this.t.edge.length;
    const firsts = [...new Set(this.patterns.map((p) => p[0]!))];
    this.firsts = firsts.length <= FEW_FIRSTS ? firsts : null;
  }

  /** Bytes held by the automaton's tables and patterns. */
  get memoryBytes(): number {
    return Object.values<Int32Array | Uint8Array>(this.t).reduce((n, a) => n + a.byteLength, 0) + this.patterns.reduce((n, p) => n + p.length, 0);
  }

  /**
   * Feed `data` from `state` (0 = start); for every byte that ends a pattern,
   * call onMatch(index just past that byte, length of the longest pattern
   * ending there). Returns the state after the last byte; `work.steps` grows
   * by the transitions taken (at most one per byte plus one per failure link).
   *
   * At the root, bytes that begin no pattern are skipped: a few by hand, then
   * (when the patterns begin with at most FEW_FIRSTS distinct bytes) with
   * Buffer.indexOf, each first byte searching every byte of the chunk at most
   * once — the common case (output without secrets) runs at memchr speed.
   */
  scan(state: number, data: Buffer, onMatch: (end: number, length: number) => void, work: { steps: number }): number {
    const { childStart, edge, fail, matchOf, rootNext } = this.t;
    const firsts = this.firsts;
    const nextAt = firsts ? new Array<number>(firsts.length).fill(-1) : null;
    const len = data.length;
    let s = state;
    let steps = 0;
    let i = 0;
    while (i < len) {
      if (s === 0) {
        // Bytes that begin no pattern leave the root where it is.
        const from = i;
        const stop = Math.min(len, i + HAND_SKIP);
        while (i < stop && rootNext[data[i]!] === 0) i++;
        steps += i - from;
        if (i === stop && i < len && firsts && nextAt) {
          let best = len;
          for (let k = 0; k < firsts.length; k++) {
            let at = nextAt[k]!;
            if (at < i) {
              // still valid otherwise: no occurrence between the search's start and `at`
              at = data.indexOf(firsts[k]!, i);
              nextAt[k] = at = at < 0 ? len : at;
            }
            if (at < best) best = at;
          }
          i = best;
        }
        if (i >= len) break;
      }
      const b = data[i]!;
      for (;;) {
        steps++;
        if (s === 0) {
          s = rootNext[b]!;
          break;
        }
        const g = childOf(childStart, edge, s, b);
        if (g !== 0) {
          s = g;
          break;
        }
        s = fail[s]!;
      }
      i++;
      if (matchOf[s] !== 0) onMatch(i, matchOf[s]!);
    }
    work.steps += steps;
    return s;
  }

  /** Length of the string spelled by `state`: the last bytes fed that may still begin a pattern. */
  depth(state: number): number {
    return this.t.depthOf[state]!;
  }

  /** The bytes spelled by `state` (a view into a pattern: no copy). */
  bytes(state: number): Buffer {
    return state === 0 ? Buffer.alloc(0) : this.patterns[this.t.repOf[state]!]!.subarray(0, this.t.depthOf[state]);
  }
}

/** The child of non-root node `u` along byte `b`, or 0 if none. */
function childOf(childStart: Int32Array, edge: Uint8Array, u: number, b: number): number {
  let lo = childStart[u]!;
  let hi = childStart[u + 1]! - 1;
  if (lo === hi) return edge[lo] === b ? lo : 0; // most nodes of long secrets have one child
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    const e = edge[mid]!;
    if (e === b) return mid;
    if (e < b) lo = mid + 1;
    else hi = mid - 1;
  }
  return 0;
}

/** The automaton of sorted, unique, non-empty patterns. */
function build(pats: readonly Buffer[], longest: number): Tables {
  const total = pats.reduce((n, p) => n + p.length, 0);
  return link(trie(pats, total, longest));
}

interface Trie {
  /** Nodes, the root (0) included. */
  count: number;
  /** Children as sorted linked lists (0 = none: the root is nobody's child). */
  firstChild: Int32Array;
  nextSibling: Int32Array;
  byte: Uint8Array;
  rep: Int32Array;
  terminal: Uint8Array;
}

/** The trie, nodes numbered in insertion order. */
function trie(pats: readonly Buffer[], total: number, longest: number): Trie {
  const cap = total + 1;
  const firstChild = new Int32Array(cap);
  const nextSibling = new Int32Array(cap);
  const byte = new Uint8Array(cap);
  const rep = new Int32Array(cap);
  const terminal = new Uint8Array(cap);
  const path = new Int32Array(longest + 1);
  let count = 1;
  for (let j = 0; j < pats.length; j++) {
    const p = pats[j]!;
    const prev = j > 0 ? pats[j - 1]! : null;
    let lcp = 0;
    if (prev) while (lcp < prev.length && prev[lcp] === p[lcp]) lcp++;
    // p > prev and p is not a prefix of prev: lcp < p.length, and the last child of path[lcp]
    // (if any) is the previous pattern's next node; the new child sorts after it.
    let node = path[lcp]!;
    const lastChild = prev && prev.length > lcp ? path[lcp + 1]! : 0;
    if (lastChild !== 0) {
      const v = count++;
      nextSibling[lastChild] = v;
      byte[v] = p[lcp]!;
      rep[v] = j;
      path[lcp + 1] = node = v;
      lcp++;
    }
    for (let i = lcp; i < p.length; i++) {
      const v = count++;
      firstChild[node] = v;
      byte[v] = p[i]!;
      rep[v] = j;
      path[i + 1] = node = v;
    }
    terminal[node] = 1;
  }
  return { count, firstChild, nextSibling, byte, rep, terminal };
}

/**
 * Renumber in BFS order (children become contiguous) and compute failure
 * links on the way: a node's failure chain only visits shallower nodes,
 * whose children are already numbered.
 */
function link({ count: n, firstChild, nextSibling, byte, rep, terminal }: Trie): Tables {
  const childStart = new Int32Array(n + 1);
  const edge = new Uint8Array(n);
  const fail = new Int32Array(n);
  const depthOf = new Int32Array(n);
  const matchOf = new Int32Array(n);
  const repOf = new Int32Array(n);
  const rootNext = new Int32Array(256);
  const oldOf = new Int32Array(n);
  let next = 1;
  for (let c = firstChild[0]!; c !== 0; c = nextSibling[c]!) {
    const v = next++;
    oldOf[v] = c;
    edge[v] = byte[c]!;
    depthOf[v] = 1;
    repOf[v] = rep[c]!;
    rootNext[byte[c]!] = v;
    matchOf[v] = terminal[c] ? 1 : 0;
  }
  childStart[0] = 1;
  for (let u = 1; u < n; u++) {
    childStart[u] = next;
    for (let c = firstChild[oldOf[u]!]!; c !== 0; c = nextSibling[c]!) {
      const v = next++;
      const b = byte[c]!;
      oldOf[v] = c;
      edge[v] = b;
      depthOf[v] = depthOf[u]! + 1;
      repOf[v] = rep[c]!;
      let f = fail[u]!;
      let g = f === 0 ? rootNext[b]! : childOf(childStart, edge, f, b);
      while (g === 0 && f !== 0) {
        f = fail[f]!;
        g = f === 0 ? rootNext[b]! : childOf(childStart, edge, f, b);
      }
      fail[v] = g;
      matchOf[v] = terminal[c] ? depthOf[v] : matchOf[g]!;
    }
  }
  childStart[n] = n;
  return { childStart, edge, fail, depthOf, matchOf, repOf, rootNext };
}
