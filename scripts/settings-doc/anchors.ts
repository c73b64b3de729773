/** The headings of Markdown documents by their GitHub anchors, so generated links can be checked. */
export type Headings = ReadonlyMap<string, string>;

/** GitHub's anchor of a heading: lower case, punctuation dropped, spaces to hyphens. */
export function anchorOf(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/`/g, '')
    .replace(/[^\p{L}\p{N}\s_-]/gu, '')
    .replace(/\s/g, '-');
}

/** anchor → heading text of one document (outside code fences). */
export function headingsOf(markdown: string): Headings {
  const out = new Map<string, string>();
  let fenced = false;
  for (const line of markdown.split('\n')) {
    if (/^(```|~~~)/.test(line)) fenced = !fenced;
    const heading = fenced ? undefined : /^#{1,6}\s+(.+?)\s*#*\s*$/.exec(line)?.[1];
    if (heading !== undefined && !out.has(anchorOf(heading))) out.set(anchorOf(heading), heading.replace(/`/g, ''));
  }
  return out;
}
