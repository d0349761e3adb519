// The Fault Injection and Request Timeouts wizards and the circuit breaker of the advanced options against Kiali's:
// each stated choice (the "choice" of its golden file) gives exactly the DestinationRule and VirtualService of
// golden/reviews-fault-injection.json, reviews-request-timeouts.json and reviews-circuit-breaker.json (written by hand
// from Kiali's WizardActions.ts, see their "source"), key order included.

import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { load } from "./ts.mjs";

const w = await load("wizard");
const goldenOf = (name) => JSON.parse(readFileSync(new URL(`./golden/${name}.json`, import.meta.url), "utf8"));

function base(golden, type) {
  const workloads = golden.choice.workloads.map((x) => ({ name: x.name, cluster: x.cluster, labels: { app: "reviews", version: x.version } }));
  const byVersion = Object.fromEntries(golden.choice.workloads.map((x) => [x.version, x.weight]));
  const weights = w.versionRows(workloads).map((r) => ({ ...r, weight: byVersion[r.version] }));
  return { type, namespace: "bookinfo", serviceName: "reviews", workloads, weights };
}
function same(out, golden) {
  assert.deepStrictEqual(out.destinationRule, golden.destinationRule);
  assert.deepStrictEqual(out.virtualService, golden.virtualService);
  assert.equal(JSON.stringify(out.destinationRule), JSON.stringify(golden.destinationRule));
  assert.equal(JSON.stringify(out.virtualService), JSON.stringify(golden.virtualService));
}

test("Fault Injection: a 3s delay on 50% and a 503 abort on 10% gives Kiali's objects", () => {
  const golden = goldenOf("reviews-fault-injection");
  const input = base(golden, "fault_injection");
  // Kiali's default weights for three workloads are those of the golden file.
  assert.deepStrictEqual(w.defaultWeights(w.versionRows(input.workloads)).map((r) => r.weight), [33, 33, 34]);
  const c = golden.choice;
  input.fault = {
    delay: { ...w.DEFAULT_DELAY, percentage: { value: c.delay.percentage }, fixedDelay: c.delay.fixedDelay },
    abort: { ...w.DEFAULT_ABORT, percentage: { value: c.abort.percentage }, httpStatus: c.abort.httpStatus },
  };
  assert.equal(w.faultProblem(input.fault), null);
  same(w.buildTrafficRouting(input), golden);
  // Only what is chosen: a delay alone, then nothing (no `fault` at all, as Kiali).
  const delayOnly = w.buildTrafficRouting({ ...input, fault: { delay: w.DEFAULT_DELAY } }).virtualService.spec.http[0];
  assert.deepStrictEqual(delayOnly.fault, { delay: { percentage: { value: 100 }, fixedDelay: "5s" } });
  assert.equal("fault" in w.buildTrafficRouting({ ...input, fault: {} }).virtualService.spec.http[0], false);
  // The fault is not written by the other wizards.
  assert.equal("fault" in w.buildTrafficRouting({ ...input, type: "traffic_shifting" }).virtualService.spec.http[0], false);
});

test("Request Timeouts: a 4s timeout and 5 retries of 1s gives Kiali's objects", () => {
  const golden = goldenOf("reviews-request-timeouts");
  const input = base(golden, "request_timeouts");
  input.timeouts = { timeout: golden.choice.timeout, retries: { ...w.DEFAULT_RETRIES, ...golden.choice.retries } };
  assert.equal(w.timeoutProblem(input.timeouts), null);
  same(w.buildTrafficRouting(input), golden);
  const retriesOnly = w.buildTrafficRouting({ ...input, timeouts: { retries: w.DEFAULT_RETRIES } }).virtualService.spec.http[0];
  assert.deepStrictEqual(Object.keys(retriesOnly), ["route", "retries"]);
  assert.deepStrictEqual(retriesOnly.retries, { attempts: 3, perTryTimeout: "2s", retryOn: "gateway-error,connect-failure,refused-stream" });
});

test("circuit breaker: load balancer, connection pool and outlier detection in the DestinationRule as Kiali writes them", () => {
  const golden = goldenOf("reviews-circuit-breaker");
  const input = base(golden, "traffic_shifting");
  const c = golden.choice;
  input.trafficPolicy = { loadBalancer: c.loadBalancer, connectionPool: c.connectionPool, outlierDetection: c.outlierDetection };
  assert.equal(w.trafficPolicyProblem(input.trafficPolicy), null);
  same(w.buildTrafficRouting(input), golden);
  // One option alone; Kiali's defaults.
  const pool = w.buildTrafficRouting({ ...input, trafficPolicy: { connectionPool: w.DEFAULT_CONNECTION_POOL } }).destinationRule.spec.trafficPolicy;
  assert.deepStrictEqual(pool, { connectionPool: { tcp: { maxConnections: 1 }, http: { http1MaxPendingRequests: 1 } } });
  const od = w.buildTrafficRouting({ ...input, type: "fault_injection", trafficPolicy: { outlierDetection: w.DEFAULT_OUTLIER_DETECTION } }).destinationRule.spec.trafficPolicy;
  assert.deepStrictEqual(od, { outlierDetection: { consecutiveErrors: 1 } });
  assert.equal(w.buildTrafficRouting({ ...input, trafficPolicy: {} }).destinationRule.spec.trafficPolicy, null);
});

test("choices that cannot be used are named", () => {
  assert.match(w.faultProblem({ delay: { percentage: { value: 120 }, fixedDelay: "5s" } }), /delay percentage must be a number from 0 to 100 \(got 120\)/);
  assert.match(w.faultProblem({ delay: { percentage: { value: 10 }, fixedDelay: "5 seconds" } }), /fixed delay must be a duration .*got "5 seconds"/);
  assert.match(w.faultProblem({ abort: { percentage: { value: 10 }, httpStatus: 700 } }), /abort HTTP status must be a whole number from 100 to 599 \(got 700\)/);
  assert.match(w.timeoutProblem({ timeout: "2" }), /timeout must be a duration/);
  assert.match(w.timeoutProblem({ retries: { attempts: -1, perTryTimeout: "2s" } }), /retry attempts must be a whole number/);
  assert.match(w.timeoutProblem({ retries: { attempts: 2, perTryTimeout: "" } }), /per-try timeout must be a duration/);
  assert.match(w.trafficPolicyProblem({ loadBalancer: "FASTEST" }), /load balancer must be one of ROUND_ROBIN, LEAST_REQUEST, RANDOM, PASSTHROUGH \(got FASTEST\)/);
  assert.match(w.trafficPolicyProblem({ connectionPool: { tcp: { maxConnections: 0 } } }), /tcp.maxConnections must be a whole number of 1 or more \(got 0\)/);
  assert.match(w.trafficPolicyProblem({ outlierDetection: { consecutiveErrors: 1.5 } }), /consecutiveErrors must be/);
  assert.equal(w.faultProblem({ delay: { percentage: { value: 0.5 }, fixedDelay: "1.5s" }, abort: { percentage: { value: 100 }, httpStatus: 404 } }), null);
});

test("reopening a wizard starts from the service's one VirtualService and one DestinationRule, as Kiali", () => {
  const fi = goldenOf("reviews-fault-injection");
  const rt = goldenOf("reviews-request-timeouts");
  const cb = goldenOf("reviews-circuit-breaker");
  assert.deepStrictEqual(w.initFault([fi.virtualService]), fi.virtualService.spec.http[0].fault);
  // A fault without a percentage is read as 100%.
  assert.deepStrictEqual(w.initFault([{ spec: { http: [{ fault: { abort: { httpStatus: 500 } } }] } }]), { abort: { percentage: { value: 100 }, httpStatus: 500 } });
  assert.deepStrictEqual(w.initTimeouts([rt.virtualService]), { timeout: "4s", retries: rt.virtualService.spec.http[0].retries });
  // Kiali keeps its own retryOn when reading retries back.
  assert.equal(w.initTimeouts([{ spec: { http: [{ retries: { attempts: 2, retryOn: "5xx" } }] } }]).retries.retryOn, w.DEFAULT_RETRIES.retryOn);
  assert.deepStrictEqual(w.initTrafficPolicy([cb.destinationRule]), { loadBalancer: "LEAST_REQUEST", connectionPool: cb.choice.connectionPool, outlierDetection: cb.choice.outlierDetection });
  // Two objects, or several HTTP routes: Kiali's defaults (nothing chosen).
  assert.deepStrictEqual(w.initFault([fi.virtualService, fi.virtualService]), {});
  assert.deepStrictEqual(w.initTimeouts([{ spec: { http: [{ timeout: "1s" }, { timeout: "2s" }] } }]), {});
  assert.deepStrictEqual(w.initTrafficPolicy([{ spec: { trafficPolicy: null } }]), {});
});
