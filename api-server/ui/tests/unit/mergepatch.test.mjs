// The YAML editor's save: the JSON merge patch (RFC 7386) of an edit, checked by applying it back.

import { test } from "node:test";
import assert from "node:assert/strict";
import { load } from "./ts.mjs";

const m = await load("mergepatch");

const loaded = {
  apiVersion: "networking.istio.io/v1",
  kind: "VirtualService",
  metadata: { name: "reviews", namespace: "bookinfo", resourceVersion: "812", uid: "u-1", generation: 3, labels: { a: "1", kiali_wizard: "traffic_shifting" } },
  spec: { hosts: ["reviews"], http: [{ route: [{ destination: { host: "reviews", subset: "v1" }, weight: 100 }] }], exportTo: ["."] },
  status: { observedGeneration: 3 },
};

test("an edit becomes the merge patch that makes it, with the loaded resourceVersion", () => {
  const edited = structuredClone(loaded);
  edited.spec.http[0].route[0].weight = 60;
  edited.spec.http[0].route.push({ destination: { host: "reviews", subset: "v2" }, weight: 40 });
  delete edited.spec.exportTo;
  delete edited.metadata.labels.a;
  edited.metadata.labels.b = "2";
  delete edited.status;
  edited.metadata.uid = "changed-by-hand";
  const patch = m.editPatch(loaded, edited);
  assert.deepStrictEqual(patch, {
    metadata: { labels: { a: null, b: "2" }, resourceVersion: "812" },
    spec: { http: edited.spec.http, exportTo: null },
  });
  // Applied to the loaded object, the patch gives the edit (server-kept fields as the server keeps them).
  const after = m.applyMergePatch(loaded, patch);
  assert.deepStrictEqual(after.spec, edited.spec);
  assert.deepStrictEqual(after.metadata.labels, { kiali_wizard: "traffic_shifting", b: "2" });
  assert.equal(after.metadata.uid, "u-1");
  assert.deepStrictEqual(after.status, loaded.status);
});

test("nothing changed is no patch; a non-mapping is refused", () => {
  assert.equal(m.editPatch(loaded, structuredClone(loaded)), null);
  const onlyStatus = structuredClone(loaded);
  onlyStatus.status = { observedGeneration: 9 };
  assert.equal(m.editPatch(loaded, onlyStatus), null);
  assert.throws(() => m.editPatch(loaded, ["a"]), /not a YAML mapping/);
  assert.throws(() => m.editPatch(loaded, "text"), /not a YAML mapping/);
});

test("mergePatch follows RFC 7386", () => {
  assert.equal(m.mergePatch({ a: 1 }, { a: 1 }), undefined);
  assert.deepStrictEqual(m.mergePatch({ a: 1, b: { c: 2, d: 3 } }, { b: { c: 2 } }), { a: null, b: { d: null } });
  assert.deepStrictEqual(m.mergePatch({ a: [1, 2] }, { a: [1] }), { a: [1] });
  assert.deepStrictEqual(m.mergePatch({ a: { b: 1 } }, { a: "x" }), { a: "x" });
  assert.ok(m.jsonEqual({ x: 1, y: [1, { z: 2 }] }, { y: [1, { z: 2 }], x: 1 }));
  assert.ok(!m.jsonEqual({ x: 1 }, { x: 1, y: null }));
});
