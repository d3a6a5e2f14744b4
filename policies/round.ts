/**
 * Rounds to a number of decimal places, for numbers written into traces and decision records: scores to 4
 * places, latencies in milliseconds to 3 (microseconds). Shorter records, and no float noise in diffs.
 *
 * @example round(0.123456, 4) // 0.1235
 */
export function round(n: number, places: number): number {
  const scale = 10 ** places;
  return Math.round(n * scale) / scale;
}
