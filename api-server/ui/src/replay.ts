// The graph's replay (Kiali's "Replay"): a slider over the last hour whose position is the graph's `queryTime`, and a
// player that steps through it. Only times and text here, no DOM, so unit tests load it directly
// (tests/unit/replay.test.mjs); the graph page draws the slider and sends the requests.

/** How far back the slider reaches, in seconds. */
export const REPLAY_SPAN = 3600;
/** One slider step, and one frame of the player, in seconds. */
export const REPLAY_STEP = 60;
/** Player speeds: the pause after a frame is drawn, in milliseconds. */
export const SPEEDS: Array<[string, number]> = [
  ["slow", 3000],
  ["medium", 1500],
  ["fast", 500],
];

export interface Window {
  /** Unix seconds of the slider's left end (one hour before `max`). */
  min: number;
  /** Unix seconds of the slider's right end: the time the replay was opened, rounded down to a step. */
  max: number;
  step: number;
}

/** The slider's range for a replay opened at `nowSec`. */
export function replayWindow(nowSec: number, span = REPLAY_SPAN, step = REPLAY_STEP): Window {
  const max = Math.floor(nowSec / step) * step;
  return { min: max - span, max, step };
}

/** `t` on the slider: clamped into the window and rounded to a step from its left end. */
export function snap(t: number, w: Window): number {
  if (!Number.isFinite(t)) return w.max;
  const c = Math.min(w.max, Math.max(w.min, t));
  return w.min + Math.round((c - w.min) / w.step) * w.step;
}

/** The `replay` URL parameter: the query time it names when it is a number inside the window, else null. */
export function parseReplay(param: string | null, w: Window): number | null {
  if (param === null || param.trim() === "" || !/^\d+$/.test(param.trim())) return null;
  const t = Number(param);
  if (t < w.min || t > w.max) return null;
  return snap(t, w);
}

/** The next frame of the player after `t`, null at the window's end. */
export function nextFrame(t: number, w: Window): number | null {
  const n = snap(t, w) + w.step;
  return n > w.max ? null : n;
}

/** Every frame from `from` to the end of the window (what a full play requests, in order). */
export function frames(from: number, w: Window): number[] {
  const out: number[] = [];
  for (let t: number | null = snap(from, w); t !== null; t = nextFrame(t, w)) out.push(t);
  return out;
}

/** "20m ago", "1h ago", "now": how far `t` is behind the window's end. */
export function ago(t: number, w: Window): string {
  const s = Math.max(0, w.max - t);
  if (s === 0) return "now";
  if (s % 3600 === 0) return `${s / 3600}h ago`;
  if (s >= 60) return `${Math.floor(s / 60)}m${s % 60 ? ` ${s % 60}s` : ""} ago`;
  return `${s}s ago`;
}

/** The query parameters of a graph request at replay time `t` (none outside replay: the server's now). */
export function queryTimeParams(t: number | null): Record<string, string> {
  return t === null ? {} : { queryTime: String(t) };
}
