/**
 * A bounded memo of a number formatter: report.html's per-round charts print each drawn point's value in its tooltip
 * (`toFixed`), and from one render to the next almost every drawn point is the same settled value. The text is the
 * formatter's own, computed on a value's first use and looked up after (a Map's keys compare by SameValueZero: −0 and 0
 * share an entry, which is right for a formatter that prints them alike, as `toFixed` does). When it holds `capacity`
 * values it starts afresh, so a long run's memory stays bounded whatever values it draws.
 */
export class ValueTextCache {
  private readonly texts = new Map<number, string>();

  constructor(
    private readonly format: (v: number) => string,
    private readonly capacity = 8192,
  ) {}

  /** `format(v)`, memoised. */
  text(v: number): string {
    let text = this.texts.get(v);
    if (text === undefined) {
      if (this.texts.size >= this.capacity) this.texts.clear();
      text = this.format(v);
      this.texts.set(v, text);
    }
    return text;
  }
}
