/**
 * A unified diff (`diff -u` format, 3 lines of context) of two texts, for
 * fs.edit's dry run. Lines common to both ends are set aside first, then
 * Myers' O(ND) algorithm finds the shortest edit of what is left; past
 * MAX_D differences the middle is shown as one replacement.
 */
const CONTEXT = 3;
const MAX_D = 4000;

type Op = { kind: ' ' | '-' | '+'; line: string };

function splitLines(text: string): string[] {
  if (text === '') return [];
  const lines = text.split('\n');
  // A text ending in \n has no line after it; one that does not, ends with a marked line.
  if (lines[lines.length - 1] === '') lines.pop();
  else lines[lines.length - 1] += '\n\\ No newline at end of file';
  return lines;
}

/** Myers: the edit script turning a into b, or null past maxD differences. */
function myers(a: string[], b: string[], maxD: number): Op[] | null {
  const n = a.length;
  const m = b.length;
  const max = Math.min(n + m, maxD);
  const off = max + 1;
  let v = new Int32Array(2 * max + 3);
  const trace: Int32Array[] = [];
  for (let d = 0; d <= max; d++) {
    trace.push(v.slice());
    const next = v.slice();
    for (let k = -d; k <= d; k += 2) {
      let x = k === -d || (k !== d && v[off + k - 1]! < v[off + k + 1]!) ? v[off + k + 1]! : v[off + k - 1]! + 1;
      let y = x - k;
      while (x < n && y < m && a[x] === b[y]) {
        x++;
        y++;
      }
      next[off + k] = x;
      if (x >= n && y >= m) return backtrack(trace, next, a, b, d, off);
    }
    v = next;
  }
  return null;
}

function backtrack(trace: Int32Array[], last: Int32Array, a: string[], b: string[], d: number, off: number): Op[] {
  const ops: Op[] = [];
  let x = a.length;
  let y = b.length;
  for (let step = d; step > 0; step--) {
    const v = trace[step]!;
    const k = x - y;
    const prevK = k === -step || (k !== step && v[off + k - 1]! < v[off + k + 1]!) ? k + 1 : k - 1;
    const prevX = v[off + prevK]!;
    const prevY = prevX - prevK;
    while (x > prevX && y > prevY) {
      ops.push({ kind: ' ', line: a[--x]! });
      y--;
    }
    if (x === prevX) ops.push({ kind: '+', line: b[--y]! });
    else ops.push({ kind: '-', line: a[--x]! });
  }
  while (x > 0 && y > 0) {
    ops.push({ kind: ' ', line: a[--x]! });
    y--;
  }
  void last;
  return ops.reverse();
}

export function unifiedDiff(path: string, before: string, after: string): string {
  const a = splitLines(before);
  const b = splitLines(after);
  let pre = 0;
  while (pre < a.length && pre < b.length && a[pre] === b[pre]) pre++;
  let post = 0;
  while (post < a.length - pre && post < b.length - pre && a[a.length - 1 - post] === b[b.length - 1 - post]) post++;
  const midA = a.slice(pre, a.length - post);
  const midB = b.slice(pre, b.length - post);
  const middle = myers(midA, midB, MAX_D) ?? [...midA.map((line) => ({ kind: '-' as const, line })), ...midB.map((line) => ({ kind: '+' as const, line }))];
  const ops: Op[] = [...a.slice(0, pre).map((line) => ({ kind: ' ' as const, line })), ...middle, ...a.slice(a.length - post).map((line) => ({ kind: ' ' as const, line }))];
  const hunks = toHunks(ops);
  if (hunks.length === 0) return '';
  return [`--- a${path}`, `+++ b${path}`, ...hunks].join('\n') + '\n';
}

/** Group changes with CONTEXT lines around them; changes closer than twice that share a hunk. */
function toHunks(ops: Op[]): string[] {
  const out: string[] = [];
  let i = 0;
  let lineA = 1;
  let lineB = 1;
  const changed = ops.map((o) => o.kind !== ' ');
  while (i < ops.length) {
    if (!changed[i]) {
      lineA++;
      lineB++;
      i++;
      continue;
    }
    const start = Math.max(0, i - CONTEXT);
    let startA = lineA - (i - start);
    let startB = lineB - (i - start);
    let end = i;
    for (let j = i; j < ops.length; j++) {
      if (changed[j]) end = j;
      else if (j - end > 2 * CONTEXT) break;
    }
    const stop = Math.min(ops.length, end + CONTEXT + 1);
    const body: string[] = [];
    let countA = 0;
    let countB = 0;
    for (let j = start; j < stop; j++) {
      const o = ops[j]!;
      body.push(o.kind + o.line);
      if (o.kind !== '+') countA++;
      if (o.kind !== '-') countB++;
    }
    for (let j = i; j < stop; j++) {
      if (ops[j]!.kind !== '+') lineA++;
      if (ops[j]!.kind !== '-') lineB++;
    }
    if (countA === 0) startA--;
    if (countB === 0) startB--;
    out.push(`@@ -${startA},${countA} +${startB},${countB} @@`, ...body);
    i = stop;
  }
  return out;
}
