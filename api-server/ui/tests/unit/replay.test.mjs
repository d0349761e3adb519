// The graph replay's times (src/replay.ts): the slider's window over the last hour, snapping, the URL parameter, the
// player's frames and the query parameter sent with each graph request.

import { test } from "node:test";
import assert from "node:assert/strict";
import { load } from "./ts.mjs";

const { replayWindow, snap, parseReplay, nextFrame, frames, ago, queryTimeParams, REPLAY_SPAN, REPLAY_STEP } = await load("replay");

const NOW = 1_764_680_000 + 37; // not on a step
const w = replayWindow(NOW);

test("the window is the last hour, its end rounded down to a step", () => {
  assert.equal(REPLAY_SPAN, 3600);
  assert.equal(w.max, 1_764_680_000 - (1_764_680_000 % REPLAY_STEP));
  assert.ok(w.max <= NOW && NOW - w.max < REPLAY_STEP);
  assert.equal(w.max - w.min, 3600);
  assert.equal(w.step, 60);
});

test("snap clamps into the window and rounds to a step", () => {
  assert.equal(snap(w.min - 500, w), w.min);
  assert.equal(snap(w.max + 500, w), w.max);
  assert.equal(snap(w.min + 89, w), w.min + 60);
  assert.equal(snap(w.min + 91, w), w.min + 120);
  assert.equal(snap(Number.NaN, w), w.max);
});

test("the replay URL parameter is honoured only inside the window", () => {
  assert.equal(parseReplay(String(w.min + 600), w), w.min + 600);
  assert.equal(parseReplay(String(w.min + 601), w), w.min + 600);
  assert.equal(parseReplay(String(w.min - 1), w), null, "older than an hour");
  assert.equal(parseReplay(String(w.max + 1), w), null, "in the future");
  assert.equal(parseReplay("soon", w), null);
  assert.equal(parseReplay("-5", w), null);
  assert.equal(parseReplay("", w), null);
  assert.equal(parseReplay(null, w), null);
});

test("the player steps one minute at a time and stops at the end", () => {
  assert.equal(nextFrame(w.min, w), w.min + 60);
  assert.equal(nextFrame(w.max - 60, w), w.max);
  assert.equal(nextFrame(w.max, w), null);
  const all = frames(w.max - 300, w);
  assert.deepEqual(all, [w.max - 300, w.max - 240, w.max - 180, w.max - 120, w.max - 60, w.max]);
  assert.equal(frames(w.min, w).length, 61);
});

test("labels and query parameters", () => {
  assert.equal(ago(w.max, w), "now");
  assert.equal(ago(w.max - 1200, w), "20m ago");
  assert.equal(ago(w.min, w), "1h ago");
  assert.equal(ago(w.max - 90, w), "1m 30s ago");
  assert.deepEqual(queryTimeParams(null), {});
  assert.deepEqual(queryTimeParams(w.min + 60), { queryTime: String(w.min + 60) });
});
