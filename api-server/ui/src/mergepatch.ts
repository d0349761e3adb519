// What the YAML editor sends on save: the JSON merge patch (RFC 7386) that turns the object as loaded into the object
// as edited. Removed fields become `null` (a merge patch deletes them), lists are replaced whole (RFC 7386 has no list
// merge), and the loaded `metadata.resourceVersion` goes along so that the API server refuses the save with 409
// Conflict when someone else changed the object in the meantime. Pure: no DOM, tested by tests/unit/*.test.mjs.

export type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

function isObject(v: unknown): v is { [k: string]: Json } {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** Deep equality of two JSON values (key order does not matter). */
export function jsonEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((x, i) => jsonEqual(x, b[i]));
  if (isObject(a) && isObject(b)) {
    const ka = Object.keys(a);
    const kb = Object.keys(b);
    return ka.length === kb.length && ka.every((k) => Object.prototype.hasOwnProperty.call(b, k) && jsonEqual(a[k], b[k]));
  }
  return false;
}

/** The merge patch from `before` to `after`; `undefined` when they are equal. */
export function mergePatch(before: unknown, after: unknown): Json | undefined {
  if (jsonEqual(before, after)) return undefined;
  if (!isObject(before) || !isObject(after)) return after as Json;
  const out: { [k: string]: Json } = {};
  for (const k of Object.keys(before)) {
    if (!Object.prototype.hasOwnProperty.call(after, k)) out[k] = null;
  }
  for (const [k, v] of Object.entries(after)) {
    const d = mergePatch(before[k], v);
    if (d !== undefined) out[k] = d;
  }
  return out;
}

/** Applies a merge patch (RFC 7386 section 2), to check what a patch does. */
export function applyMergePatch(target: unknown, patch: unknown): Json {
  if (!isObject(patch)) return patch as Json;
  const out: { [k: string]: Json } = isObject(target) ? { ...target } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = applyMergePatch(out[k], v);
  }
  return out;
}

/** Fields the API server keeps itself: a change to them in the editor is not sent. */
const SERVER_FIELDS = ["status", "metadata.managedFields", "metadata.resourceVersion", "metadata.generation", "metadata.creationTimestamp", "metadata.uid"];

function withoutServerFields(obj: unknown): unknown {
  if (!isObject(obj)) return obj;
  const copy = JSON.parse(JSON.stringify(obj)) as { [k: string]: Json };
  for (const path of SERVER_FIELDS) {
    const parts = path.split(".");
    let at: Json | undefined = copy;
    for (const p of parts.slice(0, -1)) at = isObject(at) ? at[p] : undefined;
    if (isObject(at)) delete at[parts[parts.length - 1]];
  }
  return copy;
}

/**
 * The patch a save sends: what the user changed (server-kept fields aside), with the loaded resourceVersion.
 * `null` when nothing changed. Throws when the edited text is not an object.
 */
export function editPatch(loaded: unknown, edited: unknown): Json | null {
  if (!isObject(edited)) throw new Error("the edited document is not a YAML mapping (an Istio object)");
  const patch = mergePatch(withoutServerFields(loaded), withoutServerFields(edited));
  if (patch === undefined || (isObject(patch) && Object.keys(patch).length === 0)) return null;
  const rv = isObject(loaded) && isObject(loaded.metadata) ? loaded.metadata.resourceVersion : undefined;
  if (isObject(patch) && typeof rv === "string" && rv) {
    const meta = isObject(patch.metadata) ? patch.metadata : {};
    patch.metadata = { ...meta, resourceVersion: rv };
  }
  return patch;
}
