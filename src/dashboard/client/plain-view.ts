/** Characters a plain view keeps: the oldest go first (the daemon's buffer still has them). */
const MAX_CHARS = 2_000_000;

/**
 * A non-terminal command's output in a <pre>: stdout as text, stderr marked,
 * a gap said in words. Appends are gathered per animation frame, and the
 * view only follows the end while the reader is at the end.
 */
export class PlainView {
  private queued: { text: string; cls: string | null }[] = [];
  private frame = 0;
  private chars = 0;

  constructor(private readonly pre: HTMLElement) {}

  clear(): void {
    this.pre.textContent = '';
    this.queued = [];
    this.chars = 0;
  }

  append(text: string, cls: string | null = null): void {
    this.queued.push({ text, cls });
    if (this.frame === 0) this.frame = requestAnimationFrame(() => this.flush());
  }

  private flush(): void {
    this.frame = 0;
    const pre = this.pre;
    const atEnd = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 4;
    const batch = this.queued;
    this.queued = [];
    for (const { text, cls } of batch) {
      const last = pre.lastChild;
      if (cls === null && last instanceof Text) last.appendData(text);
      else if (cls === null) pre.appendChild(document.createTextNode(text));
      else {
        const span = document.createElement('span');
        span.className = cls;
        span.textContent = text;
        pre.appendChild(span);
      }
      this.chars += text.length;
    }
    while (this.chars > MAX_CHARS && pre.firstChild) {
      this.chars -= pre.firstChild.textContent?.length ?? 0;
      pre.removeChild(pre.firstChild);
    }
    if (atEnd) pre.scrollTop = pre.scrollHeight;
  }
}
