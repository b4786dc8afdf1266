/**
 * A chart line's points as two columns (x and y), with the extents `lineChart`'s axes read from every point. Points are
 * only appended, and each append updates the extents, so a line kept from one render of report.html to the next costs
 * the next render only its new points: its axes need no pass over the old ones. Holds finite y only (as the per-site
 * curves do): a point whose y is not finite is for the caller to leave out.
 */
export class PointColumns {
  xs: number[] = [];
  ys: number[] = [];
  xMin = Number.POSITIVE_INFINITY;
  xMax = Number.NEGATIVE_INFINITY;
  yMin = Number.POSITIVE_INFINITY;
  yMax = Number.NEGATIVE_INFINITY;
  /** Whether no x is below the one before it: the distinct xs of such lines merge without a sort. */
  xsAscending = true;

  get length(): number {
    return this.xs.length;
  }

  /** The y of the last point, if any. */
  get lastY(): number | undefined {
    return this.ys.at(-1);
  }

  /** Appends a point (y finite). Math.min/max keep the extents exactly as `Math.min(...all)` would (-0 below +0). */
  push(x: number, y: number): void {
    if (this.xs.length > 0 && x < this.xs[this.xs.length - 1]) this.xsAscending = false;
    this.xs.push(x);
    this.ys.push(y);
    this.xMin = Math.min(this.xMin, x);
    this.xMax = Math.max(this.xMax, x);
    this.yMin = Math.min(this.yMin, y);
    this.yMax = Math.max(this.yMax, y);
  }

  /**
   * `a`'s points then `b`'s: `a` itself when `b` has none (neither is changed), else a new line whose columns are
   * copied whole (no per-point work) and whose extents are the two lines' extents combined.
   */
  static joined(a: PointColumns, b: PointColumns | undefined): PointColumns {
    if (!b || b.length === 0) return a;
    const line = new PointColumns();
    line.xs = a.xs.concat(b.xs);
    line.ys = a.ys.concat(b.ys);
    line.xMin = Math.min(a.xMin, b.xMin);
    line.xMax = Math.max(a.xMax, b.xMax);
    line.yMin = Math.min(a.yMin, b.yMin);
    line.yMax = Math.max(a.yMax, b.yMax);
    line.xsAscending = a.xsAscending && b.xsAscending && (a.length === 0 || b.xs[0] >= a.xs[a.length - 1]);
    return line;
  }
}
